package dataset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/creditrun/creditrun/source"
)

// GenerateConfig says what Generate writes.
type GenerateConfig struct {
	// Dir is the directory to write into; it is created when missing.
	Dir string
	// People, Properties, Businesses and Products are the numbers of records
	// of each data type. A file is written for each, empty for 0.
	People, Properties, Businesses, Products int
	// Seed picks the dataset: the same config writes the same bytes.
	Seed uint64
}

// GeneratedFile is one file that Generate wrote.
type GeneratedFile struct {
	DataType string
	Path     string
	Records  int
	Bytes    int64
}

// Generate writes a synthetic dataset: one JSONL file per data type, with
// plausible records whose fields look like a data vendor's (see the
// generators below). It streams each file to disk, writing a temporary file
// and renaming it at the end, and writes the four files in parallel. Record
// i of a data type depends only on the seed and i, so the same config gives
// byte-identical files. It returns ctx.Err() when ctx ends first.
func Generate(ctx context.Context, cfg GenerateConfig) ([]GeneratedFile, error) {
	counts := map[string]int{
		source.People: cfg.People, source.Properties: cfg.Properties,
		source.Businesses: cfg.Businesses, source.Products: cfg.Products,
	}
	for name, n := range counts {
		if n < 0 {
			return nil, fmt.Errorf("generate: %s: negative count %d", name, n)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	types := source.DataTypes()
	files := make([]GeneratedFile, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, name := range types {
		wg.Go(func() {
			files[i], errs[i] = generateFile(ctx, cfg.Dir, name, counts[name], cfg.Seed)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}

func generateFile(ctx context.Context, dir, dataType string, n int, seed uint64) (GeneratedFile, error) {
	path := filepath.Join(dir, dataType+".jsonl")
	tmp, err := os.CreateTemp(dir, "."+dataType+".jsonl.*")
	if err != nil {
		return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	g := newGenerator(dataType, n, seed)
	var rec []byte
	var size int64
	for i := range n {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				tmp.Close()
				return GeneratedFile{}, err
			}
		}
		rec = g.record(rec[:0], i)
		rec = append(rec, '\n')
		size += int64(len(rec))
		if _, err := w.Write(rec); err != nil {
			tmp.Close()
			return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
	}
	if err := tmp.Close(); err != nil {
		return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return GeneratedFile{}, fmt.Errorf("generate %s: %w", dataType, err)
	}
	return GeneratedFile{DataType: dataType, Path: path, Records: n, Bytes: size}, nil
}

// rng is splitmix64: small, fast, and the same on every platform and Go
// version, unlike math/rand's methods, which may change.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n), n < 2^32.
func (r *rng) intn(n int) int { return int((r.next() >> 32) * uint64(n) >> 32) }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance returns true with probability pct/100.
func (r *rng) chance(pct int) bool { return r.intn(100) < pct }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// city is a place records live in.
type city struct {
	name     string
	province *province
	zip      int // three digits; for Canada, the index of the postal letter
}

// world is the fixed geography: every province with about 200 cities, some
// real and the rest made up (many of them in several provinces, like
// Springfield), so that a city and a province together pick out about one
// record in 10,000.
var world = sync.OnceValue(func() []city {
	var pool []string
	for _, p := range cityPrefixes {
		for _, s := range citySuffixes {
			pool = append(pool, p+s)
		}
	}
	var out []city
	r := rng{s: 0x5eed}
	for i := range provinces {
		p := &provinces[i]
		for _, a := range p.cities {
			out = append(out, city{name: a.name, province: p, zip: a.zip})
		}
		names := append([]string(nil), pool...)
		for k := range 200 - len(p.cities) {
			j := k + r.intn(len(names)-k)
			names[k], names[j] = names[j], names[k]
			zip := 0
			if p.postal == "" {
				zip = r.between(p.zipLo, p.zipHi)
			} else {
				zip = r.intn(len(p.postal))
			}
			out = append(out, city{name: names[k], province: p, zip: zip})
		}
	}
	return out
})

// generator writes the records of one data type.
type generator struct {
	dataType string
	prefix   string
	width    int
	salt     uint64
	cities   []city
}

func newGenerator(dataType string, n int, seed uint64) *generator {
	g := &generator{dataType: dataType, width: max(8, len(strconv.Itoa(n))), cities: world()}
	switch dataType {
	case source.People:
		g.prefix, g.salt = "per_", 0x9e0b1e
	case source.Properties:
		g.prefix, g.salt = "prop_", 0x960be7
	case source.Businesses:
		g.prefix, g.salt = "biz_", 0xb15e55
	case source.Products:
		g.prefix, g.salt = "prod_", 0x960d0c
	}
	g.salt ^= seed * 0xd1342543de82ef95
	return g
}

// record appends record i, one JSON object without a newline.
func (g *generator) record(b []byte, i int) []byte {
	r := rng{s: g.salt ^ uint64(i)*0x9e3779b97f4a7c15}
	r.next()
	b = append(b, `{"id":"`...)
	b = append(b, g.prefix...)
	id := strconv.Itoa(i + 1)
	for range g.width - len(id) {
		b = append(b, '0')
	}
	b = append(b, id...)
	b = append(b, '"')
	switch g.dataType {
	case source.People:
		return g.person(b, &r)
	case source.Properties:
		return g.property(b, &r)
	case source.Businesses:
		return g.business(b, &r)
	}
	return g.product(b, &r)
}

func (g *generator) person(b []byte, r *rng) []byte {
	first, last := pick(r, firstNames), pick(r, lastNames)
	c := pick(r, g.cities)
	b = appendField(b, "name", first+" "+last)
	b = appendField(b, "email", email(r, first, last))
	b = appendField(b, "phone", phone(r, c))
	b = appendField(b, "address", street(r))
	b = appendPlace(b, r, c)
	if r.chance(85) {
		b = appendField(b, "employer", company(r))
	}
	y, m, d := r.between(1940, 2006), r.between(1, 12), r.between(1, 28)
	b = append(b, `,"birthDate":"`...)
	b = appendDate(b, y, m, d)
	return append(b, `"}`...)
}

func (g *generator) property(b []byte, r *rng) []byte {
	c := pick(r, g.cities)
	b = appendField(b, "address", street(r))
	b = appendPlace(b, r, c)
	kind := pick(r, propertyTypes)
	b = appendField(b, "propertyType", kind)
	b = appendNumber(b, "price", r.between(40, 2500)*1000)
	if kind != "Land" {
		beds := r.between(1, 6)
		b = appendNumber(b, "bedrooms", beds)
		b = append(b, `,"bathrooms":`...)
		b = strconv.AppendInt(b, int64(r.between(1, beds+1)), 10)
		if r.chance(40) {
			b = append(b, ".5"...)
		}
		b = appendNumber(b, "sqft", r.between(5, 60)*100)
		b = appendNumber(b, "yearBuilt", r.between(1900, 2024))
	}
	b = append(b, `,"listedAt":"`...)
	b = appendDate(b, r.between(2019, 2025), r.between(1, 12), r.between(1, 28))
	b = append(b, 'T')
	b = appendTwo(b, r.between(0, 23))
	b = append(b, ':')
	b = appendTwo(b, r.intn(4)*15)
	b = append(b, `:00Z","brokers":[`...)
	for k := range r.between(1, 3) {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendString(b, "agent")
		b = append(b, ':')
		b = appendString(b, pick(r, firstNames)+" "+pick(r, lastNames))
		b = appendField(b, "company", pick(r, companyAdjectives)+" "+pick(r, realtySuffixes))
		b = append(b, `,"phones":[`...)
		for p := range r.between(1, 2) {
			if p > 0 {
				b = append(b, ',')
			}
			b = appendString(b, phone(r, c))
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

func (g *generator) business(b []byte, r *rng) []byte {
	c := pick(r, g.cities)
	name := company(r)
	b = appendField(b, "name", name)
	b = append(b, `,"categories":[`...)
	n := r.between(1, 3)
	first := r.intn(len(businessCategories))
	for k := range n {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, businessCategories[(first+k*7)%len(businessCategories)])
	}
	b = append(b, ']')
	b = appendField(b, "address", street(r))
	b = appendPlace(b, r, c)
	b = append(b, `,"phones":[`...)
	for k := range r.between(1, 3) {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, phone(r, c))
	}
	b = append(b, `],"websites":[`...)
	for k := range r.intn(3) {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, website(name, k))
	}
	b = append(b, ']')
	b = appendNumber(b, "employees", r.between(1, 500))
	b = appendNumber(b, "founded", r.between(1900, 2024))
	return append(b, '}')
}

func (g *generator) product(b []byte, r *rng) []byte {
	kind := pick(r, productKinds)
	b = appendField(b, "name", pick(r, productAdjectives)+" "+pick(r, productMaterials)+" "+kind.item)
	b = appendField(b, "brand", pick(r, brands))
	b = append(b, `,"categories":[`...)
	for k, c := range kind.path {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c)
	}
	b = append(b, `],"upc":"`...)
	for range 12 {
		b = append(b, byte('0'+r.intn(10)))
	}
	b = append(b, `","prices":[`...)
	base := r.between(199, 99999)
	for k := range r.between(1, 3) {
		if k > 0 {
			b = append(b, ',')
		}
		cents := base + r.between(-base/10, base/10)
		b = append(b, `{"amount":`...)
		b = strconv.AppendInt(b, int64(cents/100), 10)
		b = append(b, '.')
		b = appendTwo(b, cents%100)
		currency := "USD"
		if r.chance(10) {
			currency = "CAD"
		}
		b = appendField(b, "currency", currency)
		b = appendField(b, "seller", pick(r, sellers))
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func email(r *rng, first, last string) string {
	var sb strings.Builder
	sb.WriteString(slug(first))
	sb.WriteString(pick(r, []string{".", "_", ""}))
	sb.WriteString(slug(last))
	if r.chance(60) {
		sb.WriteString(strconv.Itoa(r.between(1, 99)))
	}
	sb.WriteByte('@')
	sb.WriteString(pick(r, emailDomains))
	return sb.String()
}

// slug is s lowercased, with only ASCII letters and digits.
func slug(s string) string {
	var sb strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			sb.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			sb.WriteByte(c + 'a' - 'A')
		}
	}
	return sb.String()
}

func phone(r *rng, c city) string {
	area := pick(r, c.province.areaCodes)
	exch := strconv.Itoa(r.between(200, 999))
	line := strconv.Itoa(10000 + r.intn(10000))[1:]
	switch r.intn(4) {
	case 0:
		return "(" + area + ") " + exch + "-" + line
	case 1:
		return area + "." + exch + "." + line
	case 2:
		return "+1 " + area + " " + exch + " " + line
	}
	return area + "-" + exch + "-" + line
}

func street(r *rng) string {
	return strconv.Itoa(r.between(1, 9999)) + " " + pick(r, streetNames) + " " + pick(r, streetSuffixes)
}

func company(r *rng) string {
	var name string
	if r.chance(50) {
		name = pick(r, lastNames) + " " + pick(r, companyNouns)
	} else {
		name = pick(r, companyAdjectives) + " " + pick(r, companyNouns)
	}
	if s := pick(r, companySuffixes); s != "" {
		name += " " + s
	}
	return name
}

func website(name string, k int) string {
	s := strings.ToLower(strings.Join(strings.FieldsFunc(name, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9')
	}), "-"))
	if k == 0 {
		return "https://www." + s + ".com"
	}
	return "https://" + s + ".net"
}

// appendPlace appends city, province and postalCode.
func appendPlace(b []byte, r *rng, c city) []byte {
	b = appendField(b, "city", c.name)
	b = appendField(b, "province", c.province.code)
	b = append(b, `,"postalCode":"`...)
	if p := c.province; p.postal != "" {
		const letters = "ABCEGHJKLMNPRSTVXY"
		b = append(b, p.postal[c.zip], byte('0'+r.intn(10)), letters[r.intn(len(letters))], ' ',
			byte('0'+r.intn(10)), letters[r.intn(len(letters))], byte('0'+r.intn(10)))
	} else {
		zip := c.zip*100 + r.intn(100)
		s := strconv.Itoa(100000 + zip)[1:]
		b = append(b, s...)
	}
	return append(b, '"')
}

// appendField appends ,"key":"value".
func appendField(b []byte, key, value string) []byte {
	b = append(b, ',')
	b = appendString(b, key)
	b = append(b, ':')
	return appendString(b, value)
}

func appendNumber(b []byte, key string, v int) []byte {
	b = append(b, ',')
	b = appendString(b, key)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(v), 10)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c) // UTF-8 goes as it is
		}
	}
	return append(b, '"')
}

func appendDate(b []byte, y, m, d int) []byte {
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-')
	b = appendTwo(b, m)
	b = append(b, '-')
	return appendTwo(b, d)
}

func appendTwo(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
