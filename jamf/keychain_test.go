package jamf

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// kcItem is one internet password in the fake login keychain.
type kcItem struct {
	server, account, label, secret string
}

// fakeKeychain answers /usr/bin/security find-internet-password as the real
// command does: the first item matching -s (and -a, -l when given); with -w
// its password alone, otherwise its attributes; exit status 44 when none
// matches (SecKeychainSearchCopyNext: errSecItemNotFound).
type fakeKeychain struct {
	mu    sync.Mutex
	items []kcItem
	calls [][]string
}

func (k *fakeKeychain) run(_ context.Context, name string, args ...string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, append([]string{name}, args...))
	if name != "/usr/bin/security" || len(args) == 0 || args[0] != "find-internet-password" {
		return nil, fmt.Errorf("unexpected command %s %v", name, args)
	}
	var server, account, label string
	var password bool
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-s", "-a", "-l":
			if i+1 >= len(args) {
				return nil, errors.New("exit status 2")
			}
			v := args[i+1]
			switch args[i] {
			case "-s":
				server = v
			case "-a":
				account = v
			default:
				label = v
			}
			i++
		case "-w":
			password = true
		case "-g":
		default:
			return nil, fmt.Errorf("unexpected option %s", args[i])
		}
	}
	for _, it := range k.items {
		if it.server != server || (account != "" && it.account != account) || (label != "" && it.label != label) {
			continue
		}
		if password {
			return []byte(it.secret + "\n"), nil
		}
		return []byte(attributeDump(it)), nil
	}
	return nil, errors.New("exit status 44")
}

// attributeDump renders an item the way security prints one: a blob of
// printable ASCII other than a backslash in quotes, as it is (quotes
// included); any other blob in hex followed by a rendering with octal
// escapes.
func attributeDump(it kcItem) string {
	blob := func(s string) string {
		if s == "" {
			return "<NULL>"
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e || r == '\\' {
				var esc strings.Builder
				for _, b := range []byte(s) {
					if b < 0x20 || b > 0x7e || b == '\\' {
						fmt.Fprintf(&esc, `\%03o`, b)
					} else {
						esc.WriteByte(b)
					}
				}
				return "0x" + strings.ToUpper(hex.EncodeToString([]byte(s))) + `  "` + esc.String() + `"`
			}
		}
		return `"` + s + `"`
	}
	return `keychain: "/Users/autopkg/Library/Keychains/login.keychain-db"
version: 512
class: "inet"
attributes:
    0x00000007 <blob>=` + blob(it.label) + `
    0x00000008 <blob>=<NULL>
    "acct"<blob>=` + blob(it.account) + `
    "atyp"<blob>="dflt"
    "cdat"<timedate>=0x32303235313131333130303030305A00  "20251113100000Z\000"
    "crtr"<uint32>=<NULL>
    "cusi"<sint32>=<NULL>
    "desc"<blob>=<NULL>
    "icmt"<blob>=<NULL>
    "invi"<sint32>=<NULL>
    "mdat"<timedate>=0x32303235313131333130303030305A00  "20251113100000Z\000"
    "nega"<sint32>=<NULL>
    "path"<blob>=<NULL>
    "port"<uint32>=0x00000000 
    "prot"<blob>=<NULL>
    "ptcl"<uint32>=0x00000000 
    "scrp"<sint32>=<NULL>
    "sdmn"<blob>=<NULL>
    "srvr"<blob>=` + blob(it.server) + `
    "type"<uint32>=<NULL>
`
}

// TestKeychainOnly: with only JSS_URL set, account and secret come from the
// login keychain, stored as JamfUploader's scripts store them, and the
// account decides between basic auth and an API client.
func TestKeychainOnly(t *testing.T) {
	const clientID = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
	tests := []struct {
		name     string
		items    func(f *fakeJamf, host string) []kcItem
		kind     credKind
		account  string
		wantErr  []string
		wantCall []string // the secret lookup, after the attribute lookup
	}{
		{"basic account (set-credentials.sh)", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, f.user, host + " (" + f.user + ")", f.pass}}
		}, credBasic, "admin", nil, []string{"-a", "admin", "-w"}},
		{"API client (set-credentials.sh)", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, clientID, host + " (" + clientID + ")", f.secret}}
		}, credOAuth, clientID, nil, []string{"-a", clientID, "-w"}},
		{"API client labelled with its name (set-api-client.sh)", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, clientID, host + " (AutoPkg uploader)", f.secret}}
		}, credOAuth, clientID, nil, nil},
		{"item stored without a label", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, f.user, "", f.pass}}
		}, credBasic, "admin", nil, nil},
		{"first of two items, as JamfUploader takes", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, clientID, host + " (" + clientID + ")", f.secret}, {f.srv.URL, f.user, host + " (admin)", f.pass}}
		}, credOAuth, clientID, nil, nil},
		{"account in hex (not ASCII)", func(f *fakeJamf, host string) []kcItem {
			f.user, f.pass = "jörg", "pässword-1"
			return []kcItem{{f.srv.URL, f.user, host + " (jörg)", f.pass}}
		}, credBasic, "jörg", nil, nil},
		{"only a browser's item for the bare host", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{host, f.user, host, f.pass}}
		}, 0, "", []string{"no credentials given", "no internet password for", "security add-internet-password -U -s", "(ACCOUNT)"}, nil},
		{"empty keychain", func(f *fakeJamf, host string) []kcItem { return nil },
			0, "", []string{"no internet password for"}, nil},
		{"item without an account", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, "", host + " (x)", f.pass}}
		}, 0, "", []string{"has no account", "set CLIENT_ID or API_USERNAME"}, nil},
		{"wrong secret in the keychain", func(f *fakeJamf, host string) []kcItem {
			return []kcItem{{f.srv.URL, f.user, host + " (admin)", "Stale-Keychain-Pw"}}
		}, credBasic, "admin", []string{`user "admin" (basic auth) with the secret from the login keychain`, "HTTP 401"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, versionAPI)
			f.id = clientID
			host := strings.TrimPrefix(f.srv.URL, "http://")
			kc := &fakeKeychain{items: tt.items(f, host)}
			c, _ := f.client(t, func(cfg *Config, h *hooks) {
				cfg.Username, cfg.Password = "", ""
				h.goos = "darwin"
				h.runCmd = kc.run
			})
			_, err := c.Version(context.Background())
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				for _, it := range kc.items {
					if it.secret != "" && strings.Contains(err.Error(), it.secret) {
						t.Errorf("error shows the keychain secret: %v", err)
					}
				}
				if tt.kind == 0 && f.tokens.Load() != 0 {
					t.Errorf("%d token requests without credentials", f.tokens.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cred.kind != tt.kind || c.cred.account != tt.account {
				t.Errorf("credential %v %q, want %v %q", c.cred.kind, c.cred.account, tt.kind, tt.account)
			}
			if f.tokens.Load() != 1 {
				t.Errorf("token requests = %d, want 1", f.tokens.Load())
			}
			// First the attributes (no -w, -g: no secret printed, no prompt),
			// then the secret of that account on that server.
			if len(kc.calls) != 2 {
				t.Fatalf("security calls = %q", kc.calls)
			}
			if got, want := strings.Join(kc.calls[0], " "), "/usr/bin/security find-internet-password -s "+f.srv.URL; got != want {
				t.Errorf("attribute lookup = %q, want %q", got, want)
			}
			want := []string{"/usr/bin/security", "find-internet-password", "-s", f.srv.URL}
			want = append(want, tt.wantCall...)
			if tt.wantCall != nil && strings.Join(kc.calls[1], " ") != strings.Join(want, " ") {
				t.Errorf("secret lookup = %q, want %q", kc.calls[1], want)
			}
		})
	}
}

// TestKeychainOnlyNeedsMacOS: elsewhere there is no login keychain to ask,
// and the error says which inputs to give.
func TestKeychainOnlyNeedsMacOS(t *testing.T) {
	h := defaultHooks()
	h.goos = "linux"
	h.runCmd = func(context.Context, string, ...string) ([]byte, error) { panic("keychain used on Linux") }
	_, err := newClient(Config{URL: "https://x.jamfcloud.com", CacheDir: "off"}, h)
	if err == nil || !strings.Contains(err.Error(), "no credentials: give API_USERNAME and API_PASSWORD, CLIENT_ID and CLIENT_SECRET, or BEARER_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

// Given inputs still win over the keychain's account: CLIENT_ID or
// API_USERNAME alone only looks up that account's secret.
func TestKeychainGivenAccountIsNotRediscovered(t *testing.T) {
	f := newFake(t, versionAPI)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	kc := &fakeKeychain{items: []kcItem{
		{f.srv.URL, "someone-else", host + " (someone-else)", "other"},
		{f.srv.URL, f.user, host + " (admin)", f.pass},
	}}
	c, _ := f.client(t, func(cfg *Config, h *hooks) {
		cfg.Password = ""
		h.goos = "darwin"
		h.runCmd = kc.run
	})
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kc.calls) != 1 || !strings.Contains(strings.Join(kc.calls[0], " "), "-a admin -w") {
		t.Errorf("security calls = %q", kc.calls)
	}
}

func TestKeychainAttributes(t *testing.T) {
	out := attributeDump(kcItem{server: "https://x.jamfcloud.com", account: `we"ird\name`, label: "x.jamfcloud.com (Zoë)"})
	a := keychainAttributes([]byte(out))
	for k, want := range map[string]string{
		"acct":       `we"ird\name`,
		"0x00000007": "x.jamfcloud.com (Zoë)",
		"srvr":       "https://x.jamfcloud.com",
		"desc":       "",
		"cdat":       "20251113100000Z",
	} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	if got := keychainAttributes([]byte(attributeDump(kcItem{server: "s", account: `o"brien`})))["acct"]; got != `o"brien` {
		t.Errorf("quoted account with a quote = %q", got)
	}
	if len(keychainAttributes([]byte("security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"))) != 0 {
		t.Error("an error message parsed as attributes")
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0f1e2d3c-aaaa-bbbb-cccc-123456789abc":          true,
		"0F1E2D3C-AAAA-BBBB-CCCC-123456789ABC":          true,
		"{0f1e2d3c-aaaa-bbbb-cccc-123456789abc}":        true,
		"urn:uuid:0f1e2d3c-aaaa-bbbb-cccc-123456789abc": true,
		"0f1e2d3caaaabbbbcccc123456789abc":              true,
		"admin":                                         false,
		"":                                              false,
		"0f1e2d3c-aaaa-bbbb-cccc-123456789ab":           false,
		"0f1e2d3c-aaaa-bbbb-cccc-123456789abz":          false,
		"autopkg-0f1e2d3c-aaaa-bbbb-cccc-1234":          false,
	} {
		if isUUID(s) != want {
			t.Errorf("isUUID(%q) = %v", s, !want)
		}
	}
}
