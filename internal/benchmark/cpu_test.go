package benchmark

import (
	"testing"
	"time"
)

func TestParseRedisCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.000000\r\nused_cpu_user_main_thread:2.000000\r\n"
	got, err := parseRedisCPU(info)
	if err != nil || got != 3750*time.Millisecond {
		t.Errorf("parseRedisCPU = %s, %v; want 3.75s", got, err)
	}
	for _, bad := range []string{"# CPU\r\nused_cpu_sys:1.5\r\n", "used_cpu_sys:x\r\nused_cpu_user:1\r\n"} {
		if _, err := parseRedisCPU(bad); err == nil {
			t.Errorf("parseRedisCPU(%q): no error", bad)
		}
	}
}

func TestCPUTimePerOp(t *testing.T) {
	used := CPUTime{Self: 3 * time.Second, Redis: 1500 * time.Millisecond}.Sub(CPUTime{Self: time.Second, Redis: 500 * time.Millisecond})
	self, redis := used.PerOp(10_000)
	if self != 200 || redis != 100 {
		t.Errorf("PerOp = %g µs, %g µs; want 200, 100", self, redis)
	}
	if self, redis := used.PerOp(0); self != 0 || redis != 0 {
		t.Errorf("PerOp(0) = %g, %g; want 0, 0", self, redis)
	}
}
