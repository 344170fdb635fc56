package jamfsim

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// expectInvalidHeader marks a request a test sends malformed on purpose.
const expectInvalidHeader = "X-Jamfsim-Expect-Invalid"

// Reporter receives contract violations; *testing.T is one.
type Reporter interface {
	Errorf(format string, args ...any)
}

// Jamf's own OpenAPI documents (subsets, see testdata/openapi/README.md).
//
//go:embed testdata/openapi/jamf-pro-11.23.2.json testdata/openapi/jamf-pro-11.30.1.json
var schemaFS embed.FS

type schemaDoc struct {
	name  string
	doc   *openapi3.T
	paths []string // templates, without the /api server prefix
	err   error
}

var (
	schemaOnce sync.Map // file name -> *sync.Once
	schemaDocs sync.Map // file name -> *schemaDoc
)

// loadSchema parses a document once per process.
func loadSchema(name string) *schemaDoc {
	once, _ := schemaOnce.LoadOrStore(name, &sync.Once{})
	once.(*sync.Once).Do(func() {
		sd := &schemaDoc{name: name}
		defer schemaDocs.Store(name, sd)
		data, err := schemaFS.ReadFile("testdata/openapi/" + name)
		if err != nil {
			sd.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			sd.err = fmt.Errorf("parse %s: %w", name, err)
			return
		}
		applySchemaExceptions(doc)
		sd.doc = doc
		for p := range doc.Paths.Map() {
			sd.paths = append(sd.paths, p)
		}
		sort.Strings(sd.paths)
	})
	v, _ := schemaDocs.Load(name)
	return v.(*schemaDoc)
}

// applySchemaExceptions lists where the simulator knowingly departs from
// the documents, each because real servers do:
//   - ApiErrorCause.field may be null: real error bodies carry
//     "field": null (a 401 INVALID_TOKEN body as Jamf Pro sends it; no
//     public document states it, so following it is the simulator's
//     choice), the schema says a non-null string;
//   - security requirements are dropped: the subsets leave out the
//     securitySchemes they name, and the simulator checks tokens itself.
func applySchemaExceptions(doc *openapi3.T) {
	doc.Security = nil
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			op.Security = &openapi3.SecurityRequirements{}
		}
	}
	if c := doc.Components.Schemas["ApiErrorCause"]; c != nil && c.Value != nil {
		if f := c.Value.Properties["field"]; f != nil && f.Value != nil {
			f.Value.Nullable = true
		}
	}
}

// Further deliberate exceptions, in the checker below:
//   - multipart request bodies (v1 {id}/upload) are not buffered for
//     validation: they are package files, up to many GB; the handler
//     checks the form field and file name itself;
//   - an error status the operation does not list is checked against the
//     ApiError schema (the OAuth endpoint: OAuthTokenEndpointErrorResponse),
//     because the documents list few of the errors real servers send;
//   - /api/oauth/token (deprecated) and the Classic API are not in the
//     documents and are not checked;
//   - a request carrying the header X-Jamfsim-Expect-Invalid is not
//     checked (its response is): the simulator's own tests send malformed
//     requests on purpose to test the answers.

// schemaFor picks the document for a simulated version: 11.23.2 before
// 11.24, 11.30.1 from then on.
func schemaFor(v version) string {
	if v.atLeast(11, 24) {
		return "jamf-pro-11.30.1.json"
	}
	return "jamf-pro-11.23.2.json"
}

type contractChecker struct {
	sd  *schemaDoc
	rep Reporter

	mu      sync.Mutex
	checked map[string]int // "METHOD /template" -> successful exchanges checked
}

func newContractChecker(v version, rep Reporter) (*contractChecker, error) {
	sd := loadSchema(schemaFor(v))
	if sd.err != nil {
		return nil, fmt.Errorf("contract schema: %w", sd.err)
	}
	return &contractChecker{sd: sd, rep: rep, checked: map[string]int{}}, nil
}

// findRoute matches a request path to a document path template; literal
// segments win over parameters.
func (c *contractChecker) findRoute(method, path string) (*routers.Route, map[string]string) {
	rest, ok := strings.CutPrefix(path, "/api")
	if !ok {
		return nil, nil
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	var best string
	var bestParams map[string]string
	bestScore := -1
	for _, tmpl := range c.sd.paths {
		tsegs := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		params, score := map[string]string{}, 0
		for i, ts := range tsegs {
			if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
				params[ts[1:len(ts)-1]] = segs[i]
				continue
			}
			if ts != segs[i] {
				score = -1
				break
			}
			score++
		}
		if score > bestScore {
			best, bestParams, bestScore = tmpl, params, score
		}
	}
	if bestScore < 0 {
		return nil, nil
	}
	item := c.sd.doc.Paths.Value(best)
	op := item.GetOperation(method)
	if op == nil {
		return nil, nil
	}
	return &routers.Route{Spec: c.sd.doc, Path: best, PathItem: item, Method: method, Operation: op}, bestParams
}

// wrap checks the request now and the response when done is called.
func (c *contractChecker) wrap(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	route, params := c.findRoute(r.Method, r.URL.Path)
	if route == nil {
		return w, r, func() {}
	}
	key := r.Method + " " + route.Path
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	multipart := strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/")
	skipRequest := r.Header.Get(expectInvalidHeader) != ""
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if multipart {
		reqOpts := *opts
		reqOpts.ExcludeRequestBody = true
		in.Options = &reqOpts
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && !skipRequest {
			c.report("request", key, r, err)
		}
		in.Options = opts
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			c.report("request", key, r, err)
		}
		clone := r.Clone(r.Context())
		clone.Body = io.NopCloser(bytes.NewReader(body))
		in.Request = clone
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && !skipRequest {
			c.report("request", key, r, err)
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	}
	rec := &captureWriter{ResponseWriter: w}
	return rec, r, func() {
		if rec.status == 0 {
			return // dropped connection: nothing to check
		}
		if rec.status < 400 {
			c.mu.Lock()
			c.checked[key]++
			c.mu.Unlock()
		}
		c.checkResponse(key, r, in, rec)
	}
}

func (c *contractChecker) checkResponse(key string, r *http.Request, in *openapi3filter.RequestValidationInput, rec *captureWriter) {
	status := rec.status
	documented := in.Route.Operation.Responses.Status(status) != nil || in.Route.Operation.Responses.Default() != nil
	if !documented {
		if status < 400 {
			c.report("response", key, r, fmt.Errorf("status %d is not in the document", status))
			return
		}
		schemaName := "ApiError"
		if strings.HasSuffix(in.Route.Path, "/oauth/token") && (status == 400 || status == 401) {
			schemaName = "OAuthTokenEndpointErrorResponse"
		}
		ref := c.sd.doc.Components.Schemas[schemaName]
		var v any
		if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil {
			c.report("response", key, r, fmt.Errorf("status %d: body is not JSON: %v: %.200s", status, err, rec.body.String()))
			return
		}
		if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			c.report("response", key, r, fmt.Errorf("status %d: body is not %s: %v", status, schemaName, err))
		}
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), Options: in.Options}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.report("response", key, r, fmt.Errorf("status %d: %w", status, err))
	}
}

func (c *contractChecker) report(what, key string, r *http.Request, err error) {
	c.rep.Errorf("jamfsim contract (%s): %s %s (%s): %v", c.sd.name, what, key, r.URL.RequestURI(), err)
}

// coverage is how many successful exchanges were checked per
// "METHOD /template".
func (c *contractChecker) coverage() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.checked))
	for k, v := range c.checked {
		out[k] = v
	}
	return out
}

// captureWriter keeps the status and (a bounded copy of) the body.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (cw *captureWriter) WriteHeader(code int) {
	if cw.status == 0 && code >= 200 {
		cw.status = code
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *captureWriter) Write(b []byte) (int, error) {
	if cw.status == 0 {
		cw.status = http.StatusOK
	}
	if cw.body.Len() < 1<<20 {
		cw.body.Write(b)
	}
	return cw.ResponseWriter.Write(b)
}

func (cw *captureWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

func (cw *captureWriter) Flush() {
	if f, ok := cw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
