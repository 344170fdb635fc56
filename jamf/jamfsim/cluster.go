package jamfsim

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Jamf Cloud runs several web application nodes behind one URL. They share
// the database but each caches objects and only picks up other nodes'
// writes at "the cluster refresh, which occurs every minute"
// (developer.jamf.com/jamf-pro/docs/sticky-sessions-for-jamf-cloud). The
// load balancer pins a client to a node with a cookie: jpro-ingress in Jamf
// Support's current scripts (jamf/scripts support/cloud-dp-inventory-refresh),
// APBALANCEID in Jamf's older docs; Options.BalanceCookie chooses.
//
// Model: s.packages is the database (authoritative; writes and uniqueness
// checks go there). Every package write is also kept in a short history
// tagged with the node that made it; a node reads the newest version that
// it wrote itself or that is older than the cluster lag. So a client that
// keeps the cookie reads its own writes, and one that does not may land on
// a node that has not seen them yet.
//
// What an inventory refresh writes into a record (size, hashes, status) is
// local to the node it lands on: other nodes never get it through the
// cluster, only through a refresh of their own. Jamf Support's
// hit_all_pods_internet.zsh (jamf/scripts, v1.4) exists because a refresh
// on one pod is not trusted to reach the others: it finds every pod and
// refreshes each, pinned by its cookie, twice; JamfSync #16, #41 and #63
// show packages one pod serves and another does not until a refresh.

// Sticky-session cookie names of Jamf Cloud's load balancer: the current
// one (jamf/scripts hit_all_pods_internet.zsh) and the older docs' one.
const (
	CookieJproIngress = "jpro-ingress"
	CookieAPBalanceID = "APBALANCEID"
)

// nodeAll marks writes every node sees at once (fixtures added by tests).
const nodeAll = -1

type nodeKey struct{}

type pkgVersion struct {
	at    time.Time
	node  int
	local bool     // a refresh's write: seen by its node only
	p     *Package // nil: deleted
}

func (s *Server) clustered() bool { return s.opts.ClusterNodes > 1 }

func nodeCookieValue(n int) string { return "aws.jamfsim.node" + strconv.Itoa(n+1) }

func parseNodeCookie(v string, nodes int) (int, bool) {
	rest, ok := strings.CutPrefix(v, "aws.jamfsim.node")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > nodes {
		return 0, false
	}
	return n - 1, true
}

// pickNode routes a request to a node: the cookie's, or the next one in
// turn (round robin keeps test runs deterministic) with a Set-Cookie.
func (s *Server) pickNode(w http.ResponseWriter, r *http.Request) *http.Request {
	if !s.clustered() {
		return r.WithContext(context.WithValue(r.Context(), nodeKey{}, 0))
	}
	node := -1
	if c, err := r.Cookie(s.opts.BalanceCookie); err == nil {
		if n, ok := parseNodeCookie(c.Value, s.opts.ClusterNodes); ok {
			node = n
		}
	}
	if node < 0 {
		s.mu.Lock()
		node = s.nextNode % s.opts.ClusterNodes
		s.nextNode++
		s.mu.Unlock()
		// No Secure attribute: the simulator speaks plain HTTP on loopback and
		// cookie jars do not send Secure cookies over HTTP.
		http.SetCookie(w, &http.Cookie{Name: s.opts.BalanceCookie, Value: nodeCookieValue(node), Path: "/", HttpOnly: true})
	}
	return r.WithContext(context.WithValue(r.Context(), nodeKey{}, node))
}

func nodeOf(r *http.Request) int {
	if n, ok := r.Context().Value(nodeKey{}).(int); ok {
		return n
	}
	return 0
}

// commitPkgLocked writes p to the database as node made it.
func (s *Server) commitPkgLocked(node int, p *Package) {
	id := atoi(p.ID)
	db := *p
	s.packages[id] = &db
	seen := *p
	s.recordLocked(node, id, &seen)
}

// deletePkgLocked removes a package from the database as node did.
func (s *Server) deletePkgLocked(node, id int) {
	delete(s.packages, id)
	s.recordLocked(node, id, nil)
}

// refreshPkgLocked writes what a refresh on node found into package id:
// node's own view (the version the other nodes never get) and the
// database's record, whose file fields are the newest any refresh wrote
// (the refresh "will update the status of uploads in the Jamf Pro
// database", the schema's text).
func (s *Server) refreshPkgLocked(node int, p *Package) {
	id := atoi(p.ID)
	if db := s.packages[id]; db != nil {
		next := *db
		copyFileFields(&next, p)
		s.packages[id] = &next
	}
	if !s.clustered() {
		return
	}
	seen := *p
	s.appendVersionLocked(id, pkgVersion{at: time.Now(), node: node, local: true, p: &seen})
}

// copyFileFields copies what a refresh writes into a record.
func copyFileFields(dst, src *Package) {
	dst.Size, dst.TransferStatus = src.Size, src.TransferStatus
	dst.HashType, dst.HashValue = src.HashType, src.HashValue
	dst.MD5, dst.SHA256, dst.SHA3512 = src.MD5, src.SHA256, src.SHA3512
	dst.Writes = src.Writes
}

func (s *Server) recordLocked(node, id int, p *Package) {
	s.appendVersionLocked(id, pkgVersion{at: time.Now(), node: node, p: p})
}

func (s *Server) appendVersionLocked(id int, v pkgVersion) {
	now := v.at
	h := append(s.pkgHist[id], v)
	// Everything older than the newest version all nodes see is dead.
	for i := len(h) - 1; i > 0; i-- {
		if s.visibleToAll(h[i], now) {
			h = h[i:]
			break
		}
	}
	if len(h) == 1 && h[0].p == nil && s.visibleToAll(h[0], now) {
		delete(s.pkgHist, id)
		return
	}
	s.pkgHist[id] = h
}

func (s *Server) visibleToAll(v pkgVersion, now time.Time) bool {
	return !s.clustered() || v.node == nodeAll || (!v.local && now.Sub(v.at) >= s.opts.ClusterLag)
}

// viewPkgLocked is package id as node sees it (nil: absent there).
func (s *Server) viewPkgLocked(node, id int) *Package {
	if !s.clustered() {
		return s.packages[id]
	}
	now := time.Now()
	h := s.pkgHist[id]
	for i := len(h) - 1; i >= 0; i-- {
		v := h[i]
		if v.node == node || s.visibleToAll(v, now) {
			return v.p
		}
	}
	return nil
}

// viewPackagesLocked lists the packages node sees, by id.
func (s *Server) viewPackagesLocked(node int) []*Package {
	var out []*Package
	if !s.clustered() {
		for _, p := range s.packages {
			out = append(out, p)
		}
	} else {
		for id := range s.pkgHist {
			if p := s.viewPkgLocked(node, id); p != nil {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return atoi(out[i].ID) < atoi(out[j].ID) })
	return out
}

// Each node also keeps its own view of the distribution point inventory
// (jamf/scripts support/cloud-dp-inventory-refresh refreshes "on each pod"
// of a tenant, "Standard (2 pods) and Premium (4 pods)"): a refresh on a
// node replaces that node's view, and no other's. The newest view of any
// node is the database's ("This will update the status of uploads in the
// Jamf Pro database", the refresh-inventory schema text).

// recordInventoryLocked stores node's new inventory view (nodeAll: every
// node's, for fixtures).
func (s *Server) recordInventoryLocked(node int, files map[string]File) {
	s.invDB = files
	if node == nodeAll {
		for n := range s.inv {
			s.inv[n] = files
		}
		return
	}
	s.inv[node] = files
}

// inventoryLocked is the inventory as node sees it (nodeDB: the database's,
// the newest any node wrote).
func (s *Server) inventoryLocked(node int) map[string]File {
	if node == nodeDB {
		return s.invDB
	}
	if node < 0 || node >= len(s.inv) {
		return nil
	}
	return s.inv[node]
}

// nodeDB asks for the database's view rather than a node's.
const nodeDB = -2

// fixtureFileLocked puts a file into every node's inventory at once (test
// fixtures, like AddPackage): each node's view keeps its other files.
func (s *Server) fixtureFileLocked(f File) {
	for n := range s.inv {
		next := map[string]File{}
		for k, v := range s.inv[n] {
			next[k] = v
		}
		next[f.Name] = f
		s.inv[n] = next
	}
	next := map[string]File{}
	for k, v := range s.invDB {
		next[k] = v
	}
	next[f.Name] = f
	s.invDB = next
}

// nodeFile names a file on one node.
type nodeFile struct {
	node int
	name string
}

// newUploadLocked notes a new upload of name: its next refresh on each
// node is a first one again (FirstRefreshTime).
func (s *Server) newUploadLocked(name string) {
	for n := 0; n < s.opts.ClusterNodes; n++ {
		delete(s.refreshed, nodeFile{n, name})
	}
}
