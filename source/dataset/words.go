package dataset

// The word lists the generator draws from. They are fixed, so that a seed
// alone decides a dataset.

type province struct {
	code      string
	zipLo     int      // first three digits of its ZIP codes, from
	zipHi     int      // to
	postal    string   // Canadian provinces: the first letters of their postal codes
	areaCodes []string // telephone area codes
	cities    []anchor // real cities, always present
}

type anchor struct {
	name string
	zip  int // three digits, or the postal letter index for Canada
}

var provinces = []province{
	{"AL", 350, 369, "", []string{"205", "251", "256"}, nil},
	{"AK", 995, 999, "", []string{"907"}, nil},
	{"AZ", 850, 865, "", []string{"480", "520", "602"}, []anchor{{"Phoenix", 850}, {"Tucson", 857}}},
	{"AR", 716, 729, "", []string{"479", "501"}, nil},
	{"CA", 900, 961, "", []string{"213", "415", "619", "916"}, []anchor{{"Los Angeles", 900}, {"San Francisco", 941}, {"San Diego", 921}}},
	{"CO", 800, 816, "", []string{"303", "719", "970"}, []anchor{{"Denver", 802}}},
	{"CT", 60, 69, "", []string{"203", "860"}, nil},
	{"DE", 197, 199, "", []string{"302"}, nil},
	{"DC", 200, 205, "", []string{"202"}, []anchor{{"Washington", 200}}},
	{"FL", 320, 349, "", []string{"305", "407", "813", "904"}, []anchor{{"Miami", 331}, {"Orlando", 328}, {"Tampa", 336}}},
	{"GA", 300, 319, "", []string{"404", "706", "912"}, []anchor{{"Atlanta", 303}, {"Savannah", 314}}},
	{"HI", 967, 968, "", []string{"808"}, []anchor{{"Honolulu", 968}}},
	{"ID", 832, 838, "", []string{"208"}, []anchor{{"Boise", 837}}},
	{"IL", 600, 629, "", []string{"217", "312", "773"}, []anchor{{"Chicago", 606}}},
	{"IN", 460, 479, "", []string{"317", "574", "812"}, []anchor{{"Indianapolis", 462}}},
	{"IA", 500, 528, "", []string{"319", "515"}, []anchor{{"Des Moines", 503}}},
	{"KS", 660, 679, "", []string{"316", "785"}, []anchor{{"Wichita", 672}}},
	{"KY", 400, 427, "", []string{"502", "859"}, []anchor{{"Louisville", 402}}},
	{"LA", 700, 714, "", []string{"225", "504"}, []anchor{{"New Orleans", 701}, {"Baton Rouge", 708}}},
	{"ME", 39, 49, "", []string{"207"}, nil},
	{"MD", 206, 219, "", []string{"301", "410"}, []anchor{{"Baltimore", 212}}},
	{"MA", 10, 27, "", []string{"508", "617", "781"}, []anchor{{"Boston", 21}, {"Worcester", 16}}},
	{"MI", 480, 499, "", []string{"313", "616", "734"}, []anchor{{"Detroit", 482}, {"Grand Rapids", 495}}},
	{"MN", 550, 567, "", []string{"612", "651"}, []anchor{{"Minneapolis", 554}}},
	{"MS", 386, 397, "", []string{"601", "662"}, []anchor{{"Jackson", 392}}},
	{"MO", 630, 658, "", []string{"314", "816"}, []anchor{{"St. Louis", 631}, {"Kansas City", 641}}},
	{"MT", 590, 599, "", []string{"406"}, nil},
	{"NE", 680, 693, "", []string{"402", "308"}, []anchor{{"Omaha", 681}}},
	{"NV", 889, 898, "", []string{"702", "775"}, []anchor{{"Las Vegas", 891}, {"Reno", 895}}},
	{"NH", 30, 38, "", []string{"603"}, nil},
	{"NJ", 70, 89, "", []string{"201", "609", "732"}, []anchor{{"Newark", 71}}},
	{"NM", 870, 884, "", []string{"505", "575"}, []anchor{{"Albuquerque", 871}}},
	{"NY", 100, 149, "", []string{"212", "518", "716", "718"}, []anchor{{"New York", 100}, {"Buffalo", 142}, {"Rochester", 146}}},
	{"NC", 270, 289, "", []string{"704", "919"}, []anchor{{"Charlotte", 282}, {"Raleigh", 276}}},
	{"ND", 580, 588, "", []string{"701"}, nil},
	{"OH", 430, 458, "", []string{"216", "513", "614"}, []anchor{{"Columbus", 432}, {"Cleveland", 441}, {"Cincinnati", 452}}},
	{"OK", 730, 749, "", []string{"405", "918"}, []anchor{{"Tulsa", 741}}},
	{"OR", 970, 979, "", []string{"503", "541"}, []anchor{{"Portland", 972}}},
	{"PA", 150, 196, "", []string{"215", "412", "717"}, []anchor{{"Philadelphia", 191}, {"Pittsburgh", 152}}},
	{"RI", 28, 29, "", []string{"401"}, []anchor{{"Providence", 29}}},
	{"SC", 290, 299, "", []string{"803", "843"}, []anchor{{"Charleston", 294}}},
	{"SD", 570, 577, "", []string{"605"}, nil},
	{"TN", 370, 385, "", []string{"615", "901"}, []anchor{{"Nashville", 372}, {"Memphis", 381}}},
	{"TX", 750, 799, "", []string{"214", "512", "713", "210"}, []anchor{{"Austin", 787}, {"Dallas", 752}, {"Houston", 770}, {"San Antonio", 782}, {"Round Rock", 786}}},
	{"UT", 840, 847, "", []string{"801", "435"}, []anchor{{"Salt Lake City", 841}}},
	{"VT", 50, 59, "", []string{"802"}, nil},
	{"VA", 220, 246, "", []string{"703", "757", "804"}, []anchor{{"Richmond", 232}, {"Norfolk", 235}}},
	{"WA", 980, 994, "", []string{"206", "509"}, []anchor{{"Seattle", 981}, {"Spokane", 992}}},
	{"WV", 247, 268, "", []string{"304"}, nil},
	{"WI", 530, 549, "", []string{"414", "608"}, []anchor{{"Milwaukee", 532}}},
	{"WY", 820, 831, "", []string{"307"}, nil},
	{"ON", 0, 0, "KLMNP", []string{"416", "613", "905"}, []anchor{{"Toronto", 2}, {"Ottawa", 0}}},
	{"QC", 0, 0, "GHJ", []string{"418", "514"}, []anchor{{"Montréal", 1}, {"Québec", 0}}},
	{"BC", 0, 0, "V", []string{"604", "250"}, []anchor{{"Vancouver", 0}}},
	{"AB", 0, 0, "T", []string{"403", "780"}, []anchor{{"Calgary", 0}, {"Edmonton", 0}}},
}

var (
	cityPrefixes = []string{"Spring", "Green", "Fair", "Oak", "Maple", "River", "Lake", "Cedar", "Pine", "Elm",
		"Clear", "Rock", "Sun", "Wood", "Mill", "Brook", "West", "East", "North", "South", "Glen", "Ash",
		"Bridge", "Stone", "Willow", "Harbor", "Pleasant", "Mount", "Salem", "Franklin"}
	citySuffixes = []string{"field", "ville", "ton", "wood", "dale", "view", "port", "burg", " Falls", " Springs",
		" Heights", " Hills", " Park", " Grove", " Creek"}

	firstNames = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
		"Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles",
		"Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark",
		"Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua",
		"Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy",
		"Stephanie", "Ronald", "Rebecca", "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan",
		"Kathleen", "Jacob", "Amy", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Anna", "Jonathan",
		"Brenda", "Stephen", "Pamela", "Larry", "Emma", "Justin", "Nicole", "Scott", "Helen", "Brandon",
		"Samantha", "Benjamin", "Katherine", "Samuel", "Christine", "Gregory", "Debra", "Alexander", "Rachel",
		"Frank", "Carolyn", "Patrick", "Janet", "Raymond", "Catherine", "Jack", "Maria", "Dennis", "Heather",
		"Jerry", "Diane", "Tyler", "Ruth", "Aaron", "Julie", "Jose", "Olivia", "Adam", "Joyce", "Nathan",
		"Virginia", "Henry", "Victoria", "Ryana", "Kelly", "Zachary", "Lauren", "Wei", "Priya", "Mohammed", "Aisha"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
		"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
		"Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
		"Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
		"Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
		"Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins",
		"Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan",
		"Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
		"Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
		"Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Stevson", "O'Brien",
		"Chen", "Singh", "Khan", "Okafor", "Kowalski", "Schmidt", "Dubois", "Rossi", "Tanaka"}
	emailDomains = []string{"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
		"proton.me", "example.com", "mail.com", "comcast.net", "att.net", "verizon.net"}

	streetNames = []string{"Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
		"Yucca", "Sunset", "Ridge", "Willow", "River", "Meadow", "Forest", "Highland", "Jefferson", "Lincoln",
		"Madison", "Franklin", "Church", "Mill", "Spring", "Center", "North", "South", "Walnut", "Cherry",
		"Chestnut", "Birch", "Aspen", "Magnolia", "Dogwood", "Hickory", "Sycamore", "Laurel", "Juniper",
		"Mesquite", "Bluebonnet", "Pecan", "Prairie", "Canyon", "Mesa", "Vista", "Harbor", "Bay", "Ocean",
		"Valley", "Summit", "Crest", "Brookside", "Fox", "Eagle", "Hawk", "Deer", "Quail", "Colonial", "Liberty"}
	streetSuffixes = []string{"St", "Ave", "Dr", "Ln", "Rd", "Blvd", "Ct", "Way", "Pl", "Hl", "Cir", "Pkwy", "Trl", "Ter"}

	companyAdjectives = []string{"Blue Ridge", "Silver", "Golden", "Summit", "Pioneer", "Liberty", "Evergreen",
		"Red Rock", "North Star", "Lone Star", "Pacific", "Atlantic", "Great Lakes", "Keystone", "Granite",
		"Cardinal", "Redwood", "Iron", "Crystal", "Harbor", "Prairie", "Horizon", "Apex", "Bright", "Clearwater",
		"Copper", "Falcon", "Heritage", "Midwest", "Sterling"}
	companyNouns = []string{"Logistics", "Software", "Health", "Dental", "Realty", "Construction", "Consulting",
		"Bakery", "Coffee", "Auto Repair", "Plumbing", "Electric", "Landscaping", "Insurance", "Capital",
		"Analytics", "Fitness", "Veterinary", "Legal", "Accounting", "Marketing", "Design", "Roofing",
		"Cleaning", "Pharmacy", "Brewing", "Foods", "Textiles", "Security", "Energy"}
	companySuffixes = []string{"Inc.", "LLC", "Co.", "Group", "Corp.", "Partners", "Ltd.", "", "", ""}
	realtySuffixes  = []string{"Realty", "Real Estate", "Properties", "Homes", "Realty Group", "Land Co."}

	businessCategories = []string{"Restaurants", "Coffee", "Bakeries", "Auto Repair", "Dentists", "Doctors",
		"Lawyers", "Accountants", "Real Estate", "Plumbers", "Electricians", "Roofing", "Landscaping", "Hotels",
		"Gyms", "Hair Salons", "Pet Services", "Veterinarians", "Pharmacies", "Grocery", "Clothing", "Hardware",
		"Florists", "Insurance", "Banks", "Software", "Marketing", "Construction", "Cleaning", "Child Care",
		"Schools", "Churches", "Bars", "Breweries", "Bicycles", "Repair", "Printing", "Storage", "Movers", "Tea"}

	propertyTypes = []string{"Single Family", "Condo", "Townhouse", "Multi-Family", "Land", "Mobile Home"}

	productAdjectives = []string{"Ergonomic", "Rustic", "Sleek", "Classic", "Compact", "Deluxe", "Portable",
		"Heavy-Duty", "Lightweight", "Premium", "Smart", "Wireless", "Vintage", "Modern", "Organic", "Eco"}
	productMaterials = []string{"Steel", "Wooden", "Cotton", "Leather", "Plastic", "Bamboo", "Ceramic", "Glass",
		"Aluminum", "Wool", "Granite", "Rubber", "Linen", "Copper"}
	brands = []string{"Sitwell", "Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella",
		"Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Soylent", "Plain & Co.", "Oak & Iron", "Brightline",
		"Kestrel", "Lumen", "Nimbus"}
	sellers = []string{"Amazon", "Walmart", "Target", "Best Buy", "Home Depot", "Costco", "Office Hub",
		"Chairs Direct", "eBay", "Wayfair", "Lowe's", "Etsy"}
)

// productKinds are the leaf categories of the product tree, with their path.
var productKinds = []struct {
	item string
	path []string
}{
	{"Chair", []string{"Home", "Furniture", "Chairs"}},
	{"Desk", []string{"Home", "Furniture", "Desks"}},
	{"Table", []string{"Home", "Furniture", "Tables"}},
	{"Lamp", []string{"Home", "Lighting"}},
	{"Rug", []string{"Home", "Decor", "Rugs"}},
	{"Mug", []string{"Kitchen", "Drinkware"}},
	{"Knife Set", []string{"Kitchen", "Cutlery"}},
	{"Pan", []string{"Kitchen", "Cookware"}},
	{"T-Shirt", []string{"Apparel", "Tops"}},
	{"Jacket", []string{"Apparel", "Outerwear"}},
	{"Sneakers", []string{"Apparel", "Shoes"}},
	{"Backpack", []string{"Bags", "Backpacks"}},
	{"Headphones", []string{"Electronics", "Audio"}},
	{"Speaker", []string{"Electronics", "Audio"}},
	{"Keyboard", []string{"Electronics", "Computer Accessories"}},
	{"Mouse", []string{"Electronics", "Computer Accessories"}},
	{"Watch", []string{"Accessories", "Watches"}},
	{"Bicycle", []string{"Sports", "Cycling"}},
	{"Yoga Mat", []string{"Sports", "Fitness"}},
	{"Tent", []string{"Outdoors", "Camping"}},
	{"Drill", []string{"Tools", "Power Tools"}},
	{"Hammer", []string{"Tools", "Hand Tools"}},
	{"Toy Car", []string{"Toys", "Vehicles"}},
	{"Notebook", []string{"Office", "Paper"}},
}
