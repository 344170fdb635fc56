// Package jamfsim simulates a Jamf Pro server with a JCDS 2.0 distribution
// point backed by a real S3 API (in-process gofakes3, or MinIO with STS
// credentials). No Jamf Pro server can run in tests, so everything the
// uploader claims about Jamf is only as true as this simulator: it follows
// real servers' OpenAPI documents (testdata/openapi, 11.23.2–11.30.1), the
// public sources named below (Jamf's own tools: jamf-cli,
// terraform-provider-jamfplatform, terraform-provider-jamfpro, JamfSync,
// jamf/scripts; grahampugh/jamf-upload; Jamf's developer docs), and it
// lets tests inject the failures real servers produce. Where nothing public settles a point, the text says
// "choice".
//
// # Use
//
//	sim := jamfsim.Start(t, jamfsim.Options{JamfVersion: "11.10.0", TokenTTL: 2 * time.Second})
//	sim.AddCategory("Apps")
//	// client: URL sim.URL(), user admin/password or client-id/client-secret,
//	// S3 endpoint sim.S3Endpoint() (AWS_ENDPOINT_URL_S3, path-style)
//	st := sim.State() // packages, JCDS files with md5/sha3, call logs, counts
//
// Start's defaults are the faithful ones: a two-node cluster (a Standard
// instance; ClusterNodes 4 is Premium) with a 60 s refresh lag and the
// jpro-ingress cookie, an inventory per node that only a refresh on that
// node moves on (with the hash flip during processing), processing that
// takes time by size, refreshes that take 4 s the first time, 60 s API
// client tokens, and the OpenAPI contract check failing the test on any
// exchange the documents do not allow. Tests that need instant
// convergence say so (ClusterNodes: 1, or a short ClusterLag).
//
// Time: every simulated duration is waited with plain time calls
// (time.Now, timers), so a test whose simulator runs inside a
// testing/synctest bubble gets them on the bubble's fake clock. For that
// the simulator and its client must not wait on sockets: StartInMemory
// serves the Jamf Pro API, the S3 proxy and the in-process S3 on an
// in-memory network (jamf/memnet, net.Pipe), reached through the
// network's Transport; minutes of lag, processing and 60 s tokens then
// pass in milliseconds (TestInMemoryRealPaceOnFakeClock).
// Options.TimeScale (-time-scale) divides every simulated duration (cluster
// lag, processing, refresh times, the full-refresh rate limit, token and
// upload-credential lifetimes, fault latencies) for the demo, scripts and
// wall-clock tests; the simulator's own machinery (ProcessInterval,
// ListWait) is not scaled.
//
// The standalone program (jamf/cmd/jamfsim) prints JSS_URL=… and
// AWS_ENDPOINT_URL_S3=… and serves the same state at GET /_sim/state:
// "packages" shows each package as the database holds it (object writes,
// and the newest values any node's refresh wrote: a node shows them only
// after a refresh of its own), "nodes" what each node answers now (its packages, its inventory, and
// the cookie that pins a client to it), so a test can assert that every
// pod serves the record READY with the file's size and hash. Flags
// -cluster-nodes, -cluster-lag, -balance-cookie, -no-refresh-flip,
// -processing-delay, -processing-rate, -time-scale, -token-ttl, -no-jcds,
// -jcds-removed and -contract (log violations) mirror Options.
//
// # Faults
//
// Go API: InjectFault(Fault{…}), FailS3Parts(n), FailProcessing(n),
// ExpireTokens(), ExpireCredentials(), ClearFaults(). Over HTTP: POST
// /_sim/fault with a JSON Fault or one line in the flag format, POST
// /_sim/expire-tokens, /_sim/expire-credentials, /_sim/fail-s3-parts?n=N,
// /_sim/fail-processing?n=N, /_sim/clear-faults. Flag format (-fault,
// ParseFault):
//
//	METHOD PATH STATUS [COUNT] [every=N] [retry-after=S] [latency=D] [landed] [body=TEXT] [s3]
//
//	"GET /api/v1/jcds/files 429 2 retry-after=1"   two 429s with Retry-After
//	"POST /api/v1/jcds/files 503 *"                 every call fails
//	"* /api/v1/packages* drop"                      close the connection once
//	"GET /api/v1/jamf-pro-version delay latency=2s" slow, then normal
//	"PUT /jcds-sim/tmp/* expire-credentials s3"     AWS keys expire at the first S3 PUT
//	"POST /api/v1/jcds/files expire-tokens"         bearer tokens expire when this call arrives
//	"PUT /jcds-sim/tmp/* 500 3 s3"                  three failing S3 PUTs
//	"POST /api/v1/packages/1/upload never-lands"    201, but the file never lands
//	"POST /jcds-sim/tmp/* never-lands s3"           a multipart commit answers 200, nothing lands
//	"POST /api/v1/packages/1/upload corrupt"        201, the stored bytes differ (same length)
//	"POST /api/v1/packages/1/upload 504 landed latency=20m"
//	                                                the bytes land, the answer is a 504 20 min later
//	"POST /api/v1/packages/1/upload delay landed latency=20m"
//	                                                the bytes land, the 201 comes 20 min later
//	"POST /api/v1/cloud-distribution-point/refresh-inventory 500 * every=4"
//	                                                every 4th refresh answers 500
//
// never-lands is jamfplatform PR #273: the service "occasionally starts
// recomputing a package's hash for an upload that never actually landed
// the binary ... size "0""; processing ends with no file (a v1 upload also
// takes the old one with it: "no file" is what the PR shows). The refresh
// after it shows it as terraform-provider-jamfplatform's classifyPollTick
// recognises a failed upload: in the same record the hash has moved away
// from the one before the upload and size reads "0" (a v1 upload; the new
// hash is one of the simulator's own for each lost upload, so a second
// loss moves away from the first's too: choice). A JCDS commit that never lands shows
// size "0" (the client deleted the old file first). On S3 it fires only on
// a commit (PutObject or CompleteMultipartUpload).
//
// corrupt is classifyPollTick's corruption: a SHA3-512 that is neither the
// client's nor the previous one, with the client's size. The service
// stores the bytes with the first one's bits flipped (how is the choice).
// On S3 it fires only on a commit.
//
// landed serves the request first (the bytes land and are processed),
// then waits latency= and answers STATUS instead of the real answer, or
// drops the connection, or (with delay) sends the real answer late:
// grahampugh/jamf-upload#221 (open) reports {id}/upload stalls of 20
// minutes ending in 502 or 504. That the bytes had landed is the choice
// the fault lets a test make; without landed the fault answers before the
// request is served, so nothing lands. every=N models the refresh that
// answers 500 now and then (jamf-cli's verifyPackageUpload ignores those);
// deterministic rather than random (simulator's choice), so tests repeat.
//
// Jamf faults match the request path (exact, or prefix with a trailing *);
// S3 faults match /BUCKET/KEY at the S3 proxy. net/http silently retries an
// idempotent request whose reused keep-alive connection was dropped, so a
// single "drop" on a GET may go unnoticed by Go clients; use a count of 2.
//
// # Modelled behaviour and its sources
//
//   - Cluster (cluster.go). "Jamf Cloud hosted environments … are
//     clustered … web applications, which do not directly communicate with
//     each other … the cluster refresh, which occurs every minute"
//     (developer.jamf.com/jamf-pro/docs/sticky-sessions-for-jamf-cloud);
//     stickiness is a load-balancer cookie: jpro-ingress in Jamf Support's
//     current scripts (jamf/scripts support/cloud-dp-inventory-refresh/
//     hit_all_pods_internet.zsh), APBALANCEID in Jamf's older docs
//     (same page); Options.BalanceCookie / -balance-cookie chooses,
//     default jpro-ingress (jamf-upload keeps a cookie jar). Model: one database (writes, uniqueness checks) plus,
//     per node, a view of package records in which another node's write
//     appears only after ClusterLag; a node reads its own writes at once.
//     The real refresh runs every minute, so a write shows elsewhere 0–60 s
//     later; the simulator always takes the full lag (the worst case).
//     Jamf's guide says workflows that create a resource and then interact
//     with it need sticky sessions, so GET, list, PUT, DELETE and
//     {id}/upload all act on the object as the serving node sees it (404
//     where it has not seen it yet; a PUT builds on its possibly stale
//     copy) and write to the database; uniqueness is the database's.
//     Choices: a cookieless request goes to the next node in turn (round
//     robin: deterministic, so tests repeat, and the default of the
//     balancers such an ingress is commonly built on, ingress-nginx's
//     load-balance and AWS ALB's routing algorithm; no source says which
//     balancer Jamf Cloud runs); the cookie is set on the first response
//     without Secure (plain HTTP on loopback); tokens, accounts,
//     categories and the distribution point's files themselves (the S3
//     bucket) are shared by all nodes; fixtures (AddPackage, AddFile) are
//     seen everywhere.
//   - Pods (cluster.go, routes.go): GET /healthCheck.html without a
//     cookie answers 200 with the balancer's Set-Cookie for one node, in
//     turn, as for any cookieless request; with the cookie it stays on
//     that node. Jamf Support's hit_all_pods_internet.zsh (jamf/scripts
//     support/cloud-dp-inventory-refresh/, v1.4, 2026) finds the pods so:
//     cookieless `curl -sI https://<fqdn>/healthCheck.html`, the distinct
//     jpro-ingress values, 10 probes in a row with no new one end the
//     search ("10 is sufficient for Standard (2 pods) and Premium (4
//     pods)"). The body "[]" is the choice (the script reads headers
//     only). ClusterNodes 2 (default) is Standard, 4 Premium.
//   - Inventory per node (cluster.go): the same script refreshes "on each
//     pod", pinned by its cookie, and since v1.4 "Hits each pod twice per
//     run": a refresh on one pod is not trusted to reach the others, and
//     no source says when, or whether, it does; JamfSync #16, #41 and #63
//     show packages that one pod serves and another reports as "could not
//     be verified" until a refresh. So a refresh (full or ?file-name=)
//     updates the inventory and the package records of the node it lands
//     on, and no other node's, after the cluster lag too; another node
//     shows the file's state once a refresh lands there. Object writes
//     (create, update, delete, {id}/upload) still reach every node after
//     ClusterLag and carry the record as its writer saw it.
//     cloudTransferStatus and GET cloud-distribution-point/files come from
//     the serving node's view. The database keeps the newest view and the
//     newest values any refresh wrote (the refresh "will update the status
//     of uploads in the Jamf Pro database", the schema's text): State's
//     "packages"; "nodes" is what each node serves. A node that has not
//     seen the object yet has no record for its refresh to write
//     (choice). Before this, the simulator handed a refresh to the other
//     nodes after the lag; no source said so.
//   - Lenient v1 bodies (packages_v1.go): the Java service coerces 0/1 and
//     "true"/"false" to booleans and "10" to integers (grahampugh/jamf-upload:
//     JamfPackageUploader sent fillUserTemplate 0 and priority "10" for
//     years); the v1 Package schema's `required` list is the rule (no
//     `uninstall`); unknown fields are ignored. A number for categoryId is
//     accepted (the same coercion; choice that it applies to strings).
//   - size is the server's (packages.go, cdp.go): read-only in the schema;
//     a POST or PUT carrying it is not refused and the value is dropped;
//     any metadata PUT (v1 or Classic) on a package whose file is in the
//     distribution point blanks it to null, and only an inventory refresh
//     (cloud-distribution-point or jcds, full or one file-name) fills it
//     (terraform-provider-jamfplatform package helpers "wire-confirmed
//     2026-06-25"; jamf-cli PR #258; jamf/JamfSync#41). A new object starts
//     with size null (choice, from "only a refresh fills it"). A refresh
//     gives size "0" to a package whose file is not in the distribution
//     point (an upload "that never actually landed the binary" shows
//     size "0", jamfplatform PR #273; applying it at refresh time is the
//     choice),
//     unless an upload of that file is still being processed.
//   - Hashes are the server's: a refresh writes hashType SHA3_512,
//     hashValue, md5, sha256 and, shown from 11.25 (the field first
//     appears in the 11.25.2 schema), sha3512. Client-written values stay
//     until the next refresh (an early client hash can "short-circuit the
//     verification poll": jamf-cli, terraform-provider-jamfplatform). SHA3_512 is accepted as a hashType from 11.11: the sources
//     put servers on SHA3_512 around 11.11–11.12, no release pinned, and 11.11
//     is when the server's own inventory refresh, which writes SHA3_512,
//     shipped; taking the lower end never refuses SHA3_512 where a real
//     server took it (the 11.25 change was the sha3512 field, not the
//     type). Before 11.11, v1 answers 400 INVALID_FIELD (hashType) and
//     Classic 400 "Problem with hash_type" (choice of wording). The server
//     does not check a client-written hash (jamf-cli,
//     terraform-provider-jamfplatform).
//   - A v1 PUT is a full replace (packages_v1.go): a field left out of the
//     body is cleared, the hash fields (hashType, hashValue, md5, sha256,
//     sha3512) included ("confirmed PUT is full-replace; we GET the
//     canonical record first", terraform-provider-jamfplatform crud.go);
//     size is blanked as above; read-only fields (id, size,
//     cloudTransferStatus, indexed) are ignored (schema readOnly). A
//     Classic PUT changes only the elements it carries (choice: no source
//     speaks of Classic; the Classic API has always taken partial bodies).
//   - Processing takes time that grows with the size (timing.go):
//     DefaultProcessingRate, 12 MB/s, from grahampugh/jamf-upload#399: a
//     10.85 GB package on Jamf Pro 11.30.2 outlasted JamfPackageUploader's
//     verification, and the reporter suggests allowing 15 minutes
//     (10.85e9 bytes in 900 s). No source measures a rate; this is the
//     slowest pace the report supports. Options.ProcessingTime (or a
//     fixed ProcessingDelay; -processing-rate, -processing-delay) sets it,
//     so a small file can stand in for a large one. It counts from the
//     201 of {id}/upload or the 200 of a JCDS commit.
//   - Refreshes take time (timing.go): a file's first refresh about 4 s,
//     later ones about 200 ms ("slow (~4s) on first call, fast (~200ms)
//     afterwards", terraform-provider-jamfplatform
//     internal/resources/pro/package/helpers.go); "first" counts per node
//     and file name and starts again with each new upload of the name, and
//     a full refresh takes the first-call time (choices).
//   - Tokens: an API client's (OAuth) token lives 60 s by default, the
//     lifetime a user reports as the API client default
//     (grahampugh/jamf-upload#297, where users raised it to get large
//     uploads through); a basic-auth token 30 minutes (choice, the
//     simulator's earlier default). Options.TokenTTL / -token-ttl sets both.
//   - Processing moves on only through a refresh (cdp.go, store.go).
//     After a v1 {id}/upload (201 once the bytes are in) or a JCDS commit
//     (object under tmp/<uuid>/, moved into the distribution point after
//     the processing time plus hashing and copying), the record keeps its OLD
//     hashValue, size and cloudTransferStatus; only an inventory refresh
//     after the service finished writes the new ones ("The refresh is what
//     moves processing on": the refresh-inventory schema text "This will
//     update the status of uploads in the Jamf Pro database"; jamf-cli and
//     jamfplatform poll with a refresh on every tick and keep a
//     previousHash). No record turns READY and no
//     server hash appears without a refresh. A refresh during processing
//     changes nothing, except that the first one during a v1 upload that
//     replaces a file shows the new hashes with the old size and the next
//     one reverts them ("can briefly show the new hash with the old size,
//     then revert", terraform-provider-jamfplatform helpers.go); which
//     refreshes flip is the choice; Options.NoRefreshFlip /
//     -no-refresh-flip turns the flip off. The JCDS file list (GET
//     /api/v1/jcds/files) shows the distribution point itself, processed
//     files at once (choice: no source says the JCDS list lags).
//     FailProcessing leaves the old file and the next refresh shows ERROR,
//     the one after READY again ("If available, the inventory and status
//     will be updated", the schema's file-name text; when ERROR shows is the
//     choice: it is in the schema's enum only).
//   - cloudTransferStatus: READY when the serving node's inventory has the
//     file, EMPTY when it has none ("No CDP binary (metadata-only / FSDP)",
//     terraform-provider-jamfplatform package helpers), ERROR as
//     above. PENDING is never shown: it appears only in the schema's enum.
//   - v1 {id}/upload to an object whose file exists replaces the file
//     under the same name (no _1): grahampugh/jamf-upload#172 shows such
//     uploads succeeding on a real server. Whether the old file stays
//     installable meanwhile is documented nowhere (no source says the swap
//     is atomic; a Jamf developer: size and checksum are "not correct"
//     until the inventory refresh, jamf/JamfSync#41);
//     keeping it listed until the new one is processed is the choice.
//     JCDS 2.0 uploads of a taken name become Name_1, Name_2
//     (JamfPackageUploader deletes first: "otherwise the service keeps both
//     and renames the new one"; jamf-upload#131).
//   - The in-process S3 decodes aws-chunked bodies (store bodies the AWS
//     SDKs send over HTTPS, with checksum trailers; AWS S3 docs on chunked
//     uploads) in the proxy, and refuses a malformed one with 400
//     IncompleteBody (choice of code); gofakes3 alone stored the framing
//     as data. MinIO decodes them itself and gets the request untouched.
//   - Versions (version.go): /api/v1/packages from 11.5; jcds/properties
//     only before 11.19 (go-api-sdk-jamfpro "Remove removed endpoint
//     /v1/jcds/properties (11.19)"); jcds/refresh-inventory from 11.11
//     (Jamf changelog), its file-name from 11.14 (ignored before: a full
//     refresh); cloud-distribution-point/refresh-inventory from 11.24 (Jamf
//     changelog "11.24.0 Additions", absent from the 11.23.2 schema);
//     GET cloud-distribution-point, its /files and /upload-capability from
//     11.23 (present in the 11.23.2 schema, the oldest the project has; the
//     first release is the choice); the privilege "Jamf Content
//     Distribution Server Files" became "Jamf Cloud Distribution Service
//     Files" in 11.20; OAuth clients from 10.49. The version string carries
//     Jamf's -t and 13-digit millisecond suffix (11.25.2-t1772925731845).
//   - POST cloud-distribution-point/fail-upload/{id}?file-name=&type=
//     (cdp.go): in the 11.25.2 and 11.30.1 documents, not in 11.23.2, so
//     served from 11.25.2 (choice of first release); "Marks a specific
//     file upload as failed for the currently configured cloud
//     distribution point", 204, or 404 ApiError when "the specified
//     inventory file could not be found"; needs Update Cloud Distribution
//     Point. id is the inventory file's id as the serving node's /files
//     lists it. No source says what it does to the file or the package
//     record, and no known tool calls it: the simulator lists the file as
//     ERROR on that node's /files until that node's next refresh of it and
//     leaves the record alone (choice). A client should not rely on it.
//   - Full inventory refresh at most once every 15 s (the schema's
//     file-name description). What a sooner one answers is not public: the
//     choice is 204 without refreshing (the least helpful reading; a
//     client must not rely on a full refresh having run).
//   - OAuth: POST /api/v1/oauth/token (the schemas' only path) and the
//     deprecated /api/oauth/token; a bad request answers 400
//     {"error","error_description"} (schema OAuthTokenEndpointErrorResponse);
//     wrong client credentials 401 invalid_client (RFC 6749 §5.2; choice).
//   - -jcds-removed: the JCDS endpoints are deprecated since 2025-08-28
//     (x-deprecation-date in the 11.25.2+ schemas) and may go in any later
//     release: every /api/v1/jcds/* answers 404 as an unknown endpoint,
//     the cloud distribution point endpoints and v1 {id}/upload work.
//   - -no-jcds: an instance without a cloud distribution point answers 500
//     on the JCDS endpoints before 11.25.2 and 404 "JCDS Settings record
//     not found" with "id": null from then on (jamf/JamfSync#80 and #85
//     show 11.26.1; 11.25.2 as the switch is the choice); the cloud
//     distribution point endpoints (and v1 {id}/upload) answer 404 "Cloud
//     distribution point not found or is null" (wording is the choice;
//     that {id}/upload answers so is the choice).
//   - Names compare without case in RSQL filters, Classic name lookups and
//     uniqueness (DUPLICATE_FIELD, Classic 409 "Duplicate name"): Jamf's
//     RSQL guide, "not case sensitive … for all operators".
//   - Classic API errors: a missing privilege is 401 and an unknown
//     category 409 "Problem with category name" (python-jss and JSSImporter
//     reports); a PUT naming "No category assigned" is 409 the same way
//     (issue 10); a POST may name it to mean none (choice). 404 is the
//     status page "The server has not found anything matching the request
//     URI".
//   - Deleting a package object (v1 or Classic) deletes its file in the
//     distribution point (jamf-pro-sdk-python docs, JCDS 2.0 page).
//   - POST /api/v1/jcds/files answers 201 and v1 {id}/upload needs Update
//     and Read Packages (the schemas' responses and x-required-privileges).
//
// # Contract check
//
// With Options.Contract set (Start sets it to the test), every request and
// response on a path of the documents is validated with kin-openapi against
// 11.30.1 (simulated 11.24 on) or 11.23.2 (older), and any violation fails
// the test; contract.go lists the deliberate exceptions and their reasons.
// The documents are parsed once per process.
//
// # Other choices where the real server is not documented
//
//   - Missing privileges on the Jamf Pro API: 403 INVALID_PRIVILEGE, the
//     description naming the privilege (the real server does not name it),
//     so tests can assert on it. Privileges: Create/Read/Update/Delete
//     Packages, Read Categories, Read Cloud Distribution Point
//     (cloud-distribution-point refresh, files and the object), and the JCDS
//     ones (initiate and renew need Create; list, get, properties and the
//     jcds refresh need Read; delete needs Delete). The version endpoint and
//     upload-capability need only a valid token.
//   - Bad basic credentials: 401 {"httpStatus":401,"errors":[]}; keep-alive
//     with an OAuth client token: 401 INVALID_TOKEN; keep-alive invalidates
//     the old token.
//   - v1 categoryId that does not exist: 400 INVALID_FIELD (categoryId).
//   - Unsupported extension (not pkg, mpkg, dmg, zip): an object uploaded
//     to tmp/ is dropped and never listed (State.Rejected records
//     "Unsupported file extension"); v1 {id}/upload answers 400
//     INVALID_FIELD "Unsupported file extension".
//   - renew-credentials returns new keys for the account's latest upload
//     session (same uuid and path); without one it opens a new session.
//   - Upload credentials: in-process, the S3 proxy checks the access key,
//     session token, expiry and the scope (PutObject, multipart upload,
//     abort and list parts under tmp/<uuid>/ only). With MinIO, STS
//     AssumeRole mints them (DurationSeconds = max(900, CredentialsTTL))
//     with that scope as session policy, so MinIO checks signature and
//     scope; the client is told the shorter CredentialsTTL and the proxy
//     answers 400 ExpiredToken after it. Clients must use S3Endpoint (the
//     proxy), never the MinIO URL, or expiry and faults are bypassed.
//   - JCDS moves hash the object in one streamed read and copy server-side
//     (CopyObject up to 5 GiB, UploadPartCopy beyond, streamed copy as a
//     last resort); a list waits up to ListWait for a move in progress and
//     does not show files not yet moved.
//   - GET /api/v1/cloud-distribution-point describes a JAMF_CLOUD point;
//     its /files lists one PACKAGE entry per file in the serving node's
//     inventory (READY; ERROR where a refresh reported a failed upload),
//     fileObjectId the package's id ("-1" when no object names the file).
//   - The jcds properties body (before 11.19) is {"jcds2Enabled":true,
//     "fileStreamEndpointEnabled":true,"maxChunkSize":…} (fields
//     unconfirmed).
package jamfsim
