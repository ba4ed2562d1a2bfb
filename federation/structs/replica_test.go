package structs

import (
	"errors"
	"testing"
)

func TestReplicaValidate(t *testing.T) {
	ok := func(raft, api string) Replica { return Replica{ID: "hub0", RaftAddress: raft, APIAddress: api} }
	tests := map[string]struct {
		r     Replica
		valid bool
	}{
		"ipv4":                {ok("10.0.0.1:7000", "http://10.0.0.1:8080"), true},
		"names, https, path":  {ok("hub-0.svc:7000", "https://hub.example/flotilla"), true},
		"ipv6":                {ok("[fd00::1]:7000", "http://[fd00::1]:8080"), true},
		"api without port":    {ok("h:7000", "https://hub.example"), true},
		"no id":               {Replica{RaftAddress: "h:7000", APIAddress: "http://h:8080"}, false},
		"control char in id":  {Replica{ID: "a\nb", RaftAddress: "h:7000", APIAddress: "http://h:8080"}, false},
		"raft without port":   {ok("h", "http://h:8080"), false},
		"raft port 0":         {ok("h:0", "http://h:8080"), false},
		"raft port too big":   {ok("h:70000", "http://h:8080"), false},
		"raft unspecified":    {ok("0.0.0.0:7000", "http://h:8080"), false},
		"raft v6 unspecified": {ok("[::]:7000", "http://h:8080"), false},
		"raft empty host":     {ok(":7000", "http://h:8080"), false},
		"raft v6 no brackets": {ok("fd00::1:7000", "http://h:8080"), false},
		"api no scheme":       {ok("h:7000", "h:8080"), false},
		"api ftp":             {ok("h:7000", "ftp://h:21"), false},
		"api trailing slash":  {ok("h:7000", "http://h:8080/"), false},
		"api query":           {ok("h:7000", "http://h:8080?x=1"), false},
		"api fragment":        {ok("h:7000", "http://h:8080#x"), false},
		"api credentials":     {ok("h:7000", "http://u:p@h:8080"), false},
		"api space":           {ok("h:7000", "http://h :8080"), false},
		"api bad port":        {ok("h:7000", "http://h:http"), false},
		"api no host":         {ok("h:7000", "http://:8080"), false},
		"empty addresses":     {ok("", ""), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.valid && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.valid && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}
