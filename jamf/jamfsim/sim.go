package jamfsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/memnet"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/wanlink"
)

// Options configures a simulated Jamf Pro server. The zero value is a
// current Jamf Cloud instance (11.25.0) with JCDS 2.0 and an in-process S3.
type Options struct {
	JamfVersion string // default "11.25.0"

	Username, Password     string // default admin/password: an account with every privilege
	ClientID, ClientSecret string // default "client-id"/"client-secret": an API client with every privilege

	// TokenTTL is the bearer token lifetime of both kinds when set.
	// Default: 60 s for an API client's (OAuth) token, the lifetime users
	// report as the API client default (grahampugh/jamf-upload#297), and
	// 30 min for a basic-auth token.
	TokenTTL       time.Duration
	CredentialsTTL time.Duration // JCDS upload credentials lifetime; default 1h

	S3 *S3Config // nil => in-process gofakes3 on its own 127.0.0.1 listener

	// NoJCDS makes the instance one without a cloud distribution point:
	// JCDS endpoints answer 500 before 11.25.2, then 404 "JCDS Settings
	// record not found" with "id": null.
	NoJCDS bool
	// JCDSRemoved models a release that dropped the deprecated JCDS
	// endpoints: every /api/v1/jcds/* path answers 404 as an unknown
	// endpoint; the cloud distribution point endpoints and v1 {id}/upload
	// keep working.
	JCDSRemoved bool

	// CDPRefreshSince is the first version serving
	// /api/v1/cloud-distribution-point/refresh-inventory (with ?file-name=).
	// Default "11.24.0" (Jamf changelog "11.24.0 Additions").
	CDPRefreshSince string

	// ClusterNodes is the number of application nodes behind the URL
	// (default 2; 1 turns the cluster off). ClusterLag is how long a node
	// takes to see another node's writes (default 60s, Jamf Cloud's cluster
	// refresh; negative: no lag).
	ClusterNodes int
	ClusterLag   time.Duration
	// BalanceCookie names the load balancer's sticky-session cookie:
	// CookieJproIngress (default; Jamf Support's current scripts) or
	// CookieAPBalanceID (Jamf's older docs).
	BalanceCookie string

	// NoRefreshFlip turns off the flip a refresh during processing shows: the
	// first such refresh writes the new file's hashes with the old size, the
	// next one reverts them (terraform-provider-jamfplatform helpers.go).
	// Without it such a refresh changes nothing.
	NoRefreshFlip bool

	// ProcessingTime is how long the service takes to process an upload of
	// size bytes (a JCDS move out of tmp/, or a v1 {id}/upload into the
	// distribution point), on top of the simulator's own hashing and
	// copying. Default DefaultProcessingTime (jamf-upload#399's pace); set
	// it so that a small file stands in for a large one.
	ProcessingTime func(size int64) time.Duration
	// ProcessingDelay, when positive, is the processing time of every
	// upload whatever its size (ProcessingTime wins when both are set);
	// negative: no processing time beyond hashing and copying.
	ProcessingDelay time.Duration
	// FirstRefreshTime and LaterRefreshTime are how long an inventory
	// refresh takes to answer: a file's first on a node since its last
	// upload (and any full refresh), and later ones. Default 4 s and
	// 200 ms (terraform-provider-jamfplatform helpers.go); negative: at
	// once, for tests of other behaviour.
	FirstRefreshTime, LaterRefreshTime time.Duration
	// TimeScale divides every simulated duration: cluster lag, processing,
	// refresh durations, the full-refresh rate limit, token and upload
	// credential lifetimes and fault latencies (default 1: real time). It
	// is for the demo, scripts and wall-clock tests; in-process tests in a
	// testing/synctest bubble keep 1 and run the real durations on the
	// bubble's fake clock.
	TimeScale float64
	// FullRefreshInterval is the rate limit of a full inventory refresh
	// (default 15s, the schema's "once every 15 seconds"; negative: none).
	FullRefreshInterval time.Duration

	// Contract, when set, gets an error for every request and response on a
	// path of Jamf's OpenAPI documents that the document does not allow
	// (see contract.go). Start sets it to the test unless NoContract.
	Contract   Reporter
	NoContract bool

	// ProcessInterval is how often the background loop looks for uploads
	// that landed in tmp/; default 500ms. List requests also look.
	ProcessInterval time.Duration
	// ListWait bounds how long a JCDS list request waits for uploads that
	// are still being processed (hashing and moving multi-GB objects takes
	// a while); default 10s. Files not yet processed are not listed.
	ListWait time.Duration

	// StaleListings models the service briefly listing a re-uploaded file
	// (same name as one deleted before) with the new hashes but the old
	// length: that many list responses after the move show the old length.
	StaleListings int
	// ListWithoutMD5 leaves md5 out of the JCDS file list, as some server
	// versions may; clients must then compare SHA3-512.
	ListWithoutMD5 bool

	Logger zerolog.Logger

	// WAN, when enabled, puts a modelled wide-area path (package wanlink:
	// delay, per-connection and link bandwidth) between clients and the S3
	// proxy, for upload benchmarks; S3Endpoint then points at it.
	WAN wanlink.Profile

	// Tests lower these to exercise the multi-GB copy path with small objects.
	copyThreshold, copyPartSize int64

	// network: served in memory (StartInMemory, memory.go).
	network *memnet.Network
}

// S3Config points the simulator at a real S3 server (MinIO on loopback).
// Upload credentials are minted through MinIO's STS AssumeRole with a
// session policy that only allows writing under tmp/<uuid>/.
type S3Config struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string // root (or an IAM user allowed to AssumeRole)
	SecretKey string
	Bucket    string // default "jcds-sim"; created when missing
}

// Server is a running simulator.
type Server struct {
	opts    Options
	losses  int // uploads lost by a never-lands fault so far (lostFile)
	log     zerolog.Logger
	version version
	cdpVer  version

	handler http.Handler
	httpSrv *httptest.Server
	srv     *http.Server
	url     string

	oauthTTL, basicTTL time.Duration // token lifetimes, scaled

	mu              sync.Mutex
	accounts        map[string]*account // by username
	clients         map[string]*account // by client id
	tokens          map[string]*token
	packages        map[int]*Package
	nextPkgID       int
	categories      map[int]*Category
	nextCatID       int
	files           map[string]*File
	deletedSize     map[string]int64 // last length of deleted files, for StaleListings
	stale           map[string]int   // list responses left showing the old length
	rejected        []Rejected
	sessions        map[string]*uploadSession // by uuid
	lastSession     map[*account]*uploadSession
	creds           map[string]*issuedCreds // by access key id
	calls           []Call
	s3calls         []Call
	faults          []*Fault
	failParts       int
	streamedCopies  int // server-side copy fell back to streaming
	counts          Counts
	pkgHist         map[int][]pkgVersion
	nextNode        int
	lastFullRefresh time.Time
	failProcessing  int
	contract        *contractChecker
	inv             []map[string]File     // per-node inventory views (cluster.go)
	invDB           map[string]File       // the newest view any node wrote
	refreshed       map[nodeFile]bool     // file names a node has refreshed since their last upload
	failMarks       map[nodeFile]bool     // fail-upload marks, per node, until its next refresh of the file
	committed       map[string]time.Time  // JCDS uploads by tmp/ key: when the commit answered
	corrupt         map[string]bool       // request paths a "corrupt" fault marked
	uploads         map[string]*pkgUpload // by file name: uploads the service has taken, until a refresh reports them
	lost            map[string]bool       // request paths a "never-lands" fault marked

	// S3 side
	bucket     string
	s3         *s3.Client // direct to the backend, root credentials
	sts        *sts.Client
	rootKey    string
	rootSecret string
	inProcess  bool
	backend    *httptest.Server // gofakes3 when in-process
	backendURL string
	proxy      *http.Server
	proxyURL   string
	wan        *wanlink.Proxy
	procSem    chan struct{}
	kick       chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup
	closeOnce  sync.Once

	memoryServers []*http.Server // the in-memory S3 backend (memory.go)
}

// New builds a simulator and starts its S3 side (backend and proxy on their
// own loopback listeners). Serve it with Handler, Serve or Start.
func New(opts Options) (*Server, error) {
	if opts.JamfVersion == "" {
		opts.JamfVersion = "11.25.0"
	}
	v, err := parseVersion(opts.JamfVersion)
	if err != nil {
		return nil, fmt.Errorf("jamf version: %w", err)
	}
	if opts.CDPRefreshSince == "" {
		opts.CDPRefreshSince = "11.24.0"
	}
	switch opts.BalanceCookie {
	case "":
		opts.BalanceCookie = CookieJproIngress
	case CookieJproIngress, CookieAPBalanceID:
	default:
		return nil, fmt.Errorf("balance cookie %q: want %s or %s", opts.BalanceCookie, CookieJproIngress, CookieAPBalanceID)
	}
	if opts.ClusterNodes <= 0 {
		opts.ClusterNodes = 2
	}
	switch {
	case opts.ClusterLag == 0:
		opts.ClusterLag = time.Minute
	case opts.ClusterLag < 0:
		opts.ClusterLag = 0
	}
	switch {
	case opts.FullRefreshInterval == 0:
		opts.FullRefreshInterval = 15 * time.Second
	case opts.FullRefreshInterval < 0:
		opts.FullRefreshInterval = 0
	}
	cdp, err := parseVersion(opts.CDPRefreshSince)
	if err != nil {
		return nil, fmt.Errorf("cloud-distribution-point refresh version: %w", err)
	}
	if opts.Username == "" {
		opts.Username = "admin"
	}
	if opts.Password == "" {
		opts.Password = "password"
	}
	if opts.ClientID == "" {
		opts.ClientID = "client-id"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "client-secret"
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	oauthTTL, basicTTL := DefaultOAuthTokenTTL, DefaultBasicTokenTTL
	if opts.TokenTTL > 0 {
		oauthTTL, basicTTL = opts.TokenTTL, opts.TokenTTL
	}
	if opts.CredentialsTTL <= 0 {
		opts.CredentialsTTL = time.Hour
	}
	// Every simulated duration is kept divided by the time scale; the
	// simulator's own machinery (ProcessInterval, ListWait) is not.
	sc := func(d time.Duration) time.Duration { return scaleDuration(d, opts.TimeScale) }
	opts.ClusterLag = sc(opts.ClusterLag)
	opts.FullRefreshInterval = sc(opts.FullRefreshInterval)
	opts.CredentialsTTL = sc(opts.CredentialsTTL)
	opts.ProcessingDelay = sc(opts.ProcessingDelay)
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&opts.FirstRefreshTime, FirstRefreshTime}, {&opts.LaterRefreshTime, LaterRefreshTime}} {
		switch {
		case *d.p == 0:
			*d.p = sc(d.def)
		case *d.p < 0:
			*d.p = 0
		default:
			*d.p = sc(*d.p)
		}
	}
	if opts.ProcessInterval <= 0 {
		opts.ProcessInterval = 500 * time.Millisecond
	}
	if opts.copyThreshold <= 0 {
		opts.copyThreshold = maxCopyObject
	}
	if opts.copyPartSize <= 0 {
		opts.copyPartSize = copyPartSize
	}
	if opts.ListWait <= 0 {
		opts.ListWait = 10 * time.Second
	}
	s := &Server{
		opts:        opts,
		oauthTTL:    sc(oauthTTL),
		basicTTL:    sc(basicTTL),
		log:         opts.Logger,
		version:     v,
		cdpVer:      cdp,
		accounts:    map[string]*account{},
		clients:     map[string]*account{},
		tokens:      map[string]*token{},
		packages:    map[int]*Package{},
		pkgHist:     map[int][]pkgVersion{},
		nextPkgID:   1,
		categories:  map[int]*Category{},
		nextCatID:   1,
		files:       map[string]*File{},
		deletedSize: map[string]int64{},
		stale:       map[string]int{},
		sessions:    map[string]*uploadSession{},
		lastSession: map[*account]*uploadSession{},
		creds:       map[string]*issuedCreds{},
		uploads:     map[string]*pkgUpload{},
		lost:        map[string]bool{},
		corrupt:     map[string]bool{},
		inv:         make([]map[string]File, opts.ClusterNodes),
		refreshed:   map[nodeFile]bool{},
		failMarks:   map[nodeFile]bool{},
		committed:   map[string]time.Time{},
		procSem:     make(chan struct{}, 1),
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
	}
	if opts.Contract != nil {
		cc, err := newContractChecker(v, opts.Contract)
		if err != nil {
			return nil, err
		}
		s.contract = cc
	}
	all := AllPrivileges(opts.JamfVersion)
	s.AddAccount(opts.Username, opts.Password, all...)
	s.AddAPIClient(opts.ClientID, opts.ClientSecret, all...)
	s.handler = s.routes()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.startS3(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.processLoop()
	return s, nil
}

// Start serves a new simulator through httptest on 127.0.0.1 and closes it
// when the test ends.
//
// Every request and response on a path of Jamf's OpenAPI documents is
// checked against them (Options.Contract = tb) unless opts.NoContract.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Contract == nil && !opts.NoContract {
		opts.Contract = tb
	}
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("start jamfsim: %v", err)
	}
	tb.Cleanup(s.Close)
	s.httpSrv = httptest.NewServer(s.handler)
	s.url = s.httpSrv.URL
	return s
}

// Serve answers Jamf requests on l until Close; URL reports l's address.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	srv := s.srv
	s.url = "http://" + l.Addr().String()
	s.mu.Unlock()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Listen opens addr and serves on it in the background; it returns the URL.
func (s *Server) Listen(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s: %w", addr, err)
	}
	url := "http://" + l.Addr().String()
	s.mu.Lock()
	s.url = url
	s.mu.Unlock()
	go func() {
		if err := s.Serve(l); err != nil {
			s.log.Error().Err(err).Msg("serve")
		}
	}()
	return url, nil
}

// Handler is the Jamf Pro HTTP API (and /_sim/ control endpoints).
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the Jamf Pro URL once served by Start, Serve or Listen.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// S3Endpoint is the URL clients must use for S3 (AWS_ENDPOINT_URL_S3): the
// simulator's proxy in front of the backend, so it sees every upload.
func (s *Server) S3Endpoint() string { return s.proxyURL }

// Bucket is the JCDS bucket name handed out with upload credentials.
func (s *Server) Bucket() string { return s.bucket }

// Close stops serving and releases the S3 side.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		if s.httpSrv != nil {
			s.httpSrv.CloseClientConnections()
			s.httpSrv.Close()
		}
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			_ = srv.Close()
		}
		s.wg.Wait()
		if s.wan != nil {
			_ = s.wan.Close()
		}
		if s.proxy != nil {
			_ = s.proxy.Close()
		}
		if s.backend != nil {
			s.backend.CloseClientConnections()
			s.backend.Close()
		}
		s.closeMemory()
	})
}

// Call is one request seen by the simulator.
type Call struct {
	Method string `json:"method"`
	Path   string `json:"path"`            // escaped path as sent
	Query  string `json:"query,omitempty"` // raw query
	Status int    `json:"status"`
	Auth   string `json:"auth,omitempty"` // "basic", "bearer", "oauth", "" (S3: access key id prefix never recorded)
}

// Counts counts authentication traffic.
type Counts struct {
	TokenRequests      int `json:"tokenRequests"`      // POST /api/v1/auth/token (all outcomes)
	OAuthTokenRequests int `json:"oauthTokenRequests"` // POST /api/v1/oauth/token or /api/oauth/token (all outcomes)
	KeepAlives         int `json:"keepAlives"`
	Invalidations      int `json:"invalidations"`
	Initiates          int `json:"initiates"` // POST /api/v1/jcds/files
	Renewals           int `json:"renewals"`  // POST /api/v1/jcds/renew-credentials
	Refreshes          int `json:"refreshes"` // either refresh-inventory endpoint
}

// State is a snapshot for assertions (also served as JSON at /_sim/state).
// Packages are the database's records: object writes, and the newest
// values any node's refresh wrote (a refresh reaches only its own node, so
// no node may show them yet); Views (JSON "packages") shows each as
// GET /api/v1/packages/{id} would with the database's records and
// inventory. Nodes shows what each node serves now (NotServedBy).
type State struct {
	Version    string           `json:"version"`
	Packages   []Package        `json:"-"`
	Views      []map[string]any `json:"packages"`
	Nodes      []NodeState      `json:"nodes"`
	Categories []Category       `json:"categories"`
	Files      []File           `json:"files"`
	Rejected   []Rejected       `json:"rejected"` // uploads the service refused (e.g. unsupported extension)
	Calls      []Call           `json:"calls"`
	S3Calls    []Call           `json:"s3Calls"`
	Counts     Counts           `json:"counts"`
}

// NodeState is one cluster node's view: each package as
// GET /api/v1/packages/{id} answers there, and the file names in its
// inventory.
type NodeState struct {
	Node      int              `json:"node"`
	Cookie    string           `json:"cookie"` // NAME=VALUE that pins a client to this node
	Packages  []map[string]any `json:"packages"`
	Inventory []string         `json:"inventory"`
}

// NotServedBy lists the cookies of the nodes whose record of the package
// with that file name is not READY with that size and SHA3-512 (hashType
// SHA3_512), in node order; an empty list means every node serves it. A
// node that does not show the package at all is listed too.
func (st State) NotServedBy(fileName string, size int64, sha3 string) []string {
	var out []string
	for _, n := range st.Nodes {
		ok := false
		for _, p := range n.Packages {
			if p["fileName"] != fileName {
				continue
			}
			ok = p["cloudTransferStatus"] == "READY" && p["size"] == strconv.FormatInt(size, 10) &&
				p["hashType"] == "SHA3_512" && p["hashValue"] == sha3
			break
		}
		if !ok {
			out = append(out, n.Cookie)
		}
	}
	return out
}

// File is a file in the JCDS distribution point.
type File struct {
	Name   string `json:"fileName"`
	Size   int64  `json:"length"`
	MD5    string `json:"md5"`
	SHA3   string `json:"sha3"` // SHA3-512, lowercase hex
	Region string `json:"region"`
	SHA256 string `json:"-"` // not listed by JCDS; package records carry it after a refresh
}

// Rejected is an upload the JCDS service refused to process.
type Rejected struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// State returns a copy of the simulator's state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Version: s.opts.JamfVersion, Counts: s.counts}
	for _, p := range s.packagesLocked() {
		st.Packages = append(st.Packages, *p)
		st.Views = append(st.Views, s.v1ViewLocked(nodeDB, p))
	}
	for n := 0; n < s.opts.ClusterNodes; n++ {
		ns := NodeState{Node: n, Cookie: s.opts.BalanceCookie + "=" + nodeCookieValue(n), Packages: []map[string]any{},
			Inventory: sortedKeys(s.inventoryLocked(n))}
		for _, p := range s.viewPackagesLocked(n) {
			ns.Packages = append(ns.Packages, s.v1ViewLocked(n, p))
		}
		st.Nodes = append(st.Nodes, ns)
	}
	for _, c := range s.categories {
		st.Categories = append(st.Categories, *c)
	}
	sort.Slice(st.Categories, func(i, j int) bool { return atoi(st.Categories[i].ID) < atoi(st.Categories[j].ID) })
	st.Files = s.fileListLocked()
	st.Rejected = append([]Rejected(nil), s.rejected...)
	st.Calls = append([]Call(nil), s.calls...)
	st.S3Calls = append([]Call(nil), s.s3calls...)
	return st
}

// File returns the JCDS file with that name.
func (s *Server) File(name string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[name]
	if !ok {
		return File{}, false
	}
	return *f, true
}

// CallCount counts recorded Jamf calls with that method and path ("" method
// matches any; a path ending in "*" is a prefix).
func (s *Server) CallCount(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if (method == "" || c.Method == method) && pathMatch(path, c.Path) {
			n++
		}
	}
	return n
}

// ResetCalls forgets the call logs (not the counts).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.s3calls = nil
}

func (s *Server) fileListLocked() []File {
	out := make([]File, 0, len(s.files))
	for _, f := range s.files {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	// 1xx (100 Continue from the S3 backend) precede the real status.
	if !r.wrote && code >= 200 {
		r.status = code
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status = http.StatusOK
		r.wrote = true
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func pathMatch(pattern, path string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == path
}

// drain reads the rest of a request body so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<30)) }
