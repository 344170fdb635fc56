package jamf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// discoverAccount settles who we are when only JSS_URL was given: the
// account of the login keychain's internet password whose server is the
// Jamf Pro URL, as JamfUploader's set-credentials.sh and set-api-client.sh
// store it (server JSS_URL, account the user name or API client id, label
// "host (name)"). The label is not trusted for the account: set-api-client.sh
// puts the client's display name there and its id in the account field.
// Like JamfUploader, an account that reads as a UUID is an API client.
func (c *Client) discoverAccount(ctx context.Context) error {
	cr := c.cred
	host := c.base
	if u, err := url.Parse(c.base); err == nil {
		host = u.Host
	}
	// Without -w or -g the command prints the item's attributes only: no
	// secret, and no keychain access prompt.
	out, err := c.hooks.runCmd(ctx, "/usr/bin/security", "find-internet-password", "-s", c.base)
	if err != nil {
		return fmt.Errorf("authenticate at %s: no credentials given (CLIENT_ID and CLIENT_SECRET, API_USERNAME and API_PASSWORD, "+
			"or BEARER_TOKEN) and the login keychain has no internet password for %s; store one as JamfUploader's "+
			"set-credentials.sh does: security add-internet-password -U -s %s -l '%s (ACCOUNT)' -a ACCOUNT -w "+
			"(ACCOUNT: the API client id or the account name; -w alone asks for the secret)", c.base, c.base, c.base, host)
	}
	attrs := keychainAttributes(out)
	acct := strings.TrimSpace(attrs["acct"])
	if acct == "" {
		return fmt.Errorf("authenticate at %s: the login keychain's internet password for %s (label %q) has no account; "+
			"set CLIENT_ID or API_USERNAME, or store the item again with -a ACCOUNT", c.base, c.base, attrs["0x00000007"])
	}
	cr.account = acct
	cr.kind = credBasic
	if isUUID(acct) {
		cr.kind = credOAuth
	}
	c.log.Info().Str("server", c.base).Msgf("using %s from the login keychain", cr.describe())
	return nil
}

// keychainAttributes reads the attribute lines `security find-internet-password`
// prints without -w, e.g.
//
//	"acct"<blob>="0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
//	0x00000007 <blob>="example.jamfcloud.com (0f1e2d3c-...)"
//	"acct"<blob>=0x4AC3B6726720  "J\303\266rg "
//
// into a map from the attribute name ("acct", "srvr", "0x00000007" for the
// label) to its text. Blobs that are not plain printable text come as hex
// followed by an escaped rendering; the hex is what is decoded.
func keychainAttributes(out []byte) map[string]string {
	attrs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		typ := strings.Index(line, "<")
		eq := strings.Index(line, ">=")
		if typ <= 0 || eq < typ {
			continue
		}
		name := strings.Trim(strings.TrimSpace(line[:typ]), `"`)
		if _, seen := attrs[name]; seen {
			continue
		}
		attrs[name] = attributeValue(line[eq+2:])
	}
	return attrs
}

func attributeValue(v string) string {
	switch {
	case v == "<NULL>":
		return ""
	case strings.HasPrefix(v, "0x"):
		digits := v[2:]
		if i := strings.IndexAny(digits, " \t"); i >= 0 {
			digits = digits[:i]
		}
		if b, err := hex.DecodeString(digits); err == nil {
			return strings.TrimRight(string(b), "\x00")
		}
		return ""
	case strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) && len(v) >= 2:
		return unescapeSecurity(v[1 : len(v)-1])
	}
	return v
}

// unescapeSecurity undoes the backslash escapes security uses inside quotes
// (\" \\ and three-digit octal bytes).
func unescapeSecurity(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// isUUID reports whether s is a UUID in any of the spellings Python's
// uuid.UUID accepts (JamfUploader's test for an API client id): optional
// "urn:" and "uuid:" prefixes and braces, hyphens anywhere, 32 hex digits.
func isUUID(s string) bool {
	s = strings.ReplaceAll(s, "urn:", "")
	s = strings.ReplaceAll(s, "uuid:", "")
	s = strings.Trim(s, "{}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
