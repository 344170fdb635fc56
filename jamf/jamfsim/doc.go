// Package jamfsim simulates a Jamf Pro server with a JCDS 2.0 distribution
// point backed by a real S3 API (in-process gofakes3, or MinIO with STS
// credentials). No Jamf Pro server can run in tests, so everything the
// uploader claims about Jamf is only as true as this simulator: it follows
// the endpoint shapes, status codes and version differences documented in
// the team's jamf-api.md reference, and it lets tests inject the failures
// real servers produce.
//
// # Use
//
//	sim := jamfsim.Start(t, jamfsim.Options{JamfVersion: "11.10.0", TokenTTL: 2 * time.Second})
//	sim.AddCategory("Apps")
//	// client: URL sim.URL(), user admin/password or client-id/client-secret,
//	// S3 endpoint sim.S3Endpoint() (AWS_ENDPOINT_URL_S3, path-style)
//	st := sim.State() // packages, JCDS files with md5/sha3, call logs, counts
//
// The standalone program (jamf/cmd/jamfsim) prints JSS_URL=… and
// AWS_ENDPOINT_URL_S3=… and serves the same state at GET /_sim/state.
//
// # Faults
//
// Go API: InjectFault(Fault{…}), FailS3Parts(n), ExpireTokens(),
// ExpireCredentials(), ClearFaults(). Over HTTP (for the program and
// outside checks): POST /_sim/fault with a JSON Fault or one line in the
// flag format, POST /_sim/expire-tokens, /_sim/expire-credentials,
// /_sim/fail-s3-parts?n=N, /_sim/clear-faults. Flag format (-fault, and
// ParseFault):
//
//	METHOD PATH STATUS [COUNT] [retry-after=S] [latency=D] [body=TEXT] [s3]
//
//	"GET /api/v1/jcds/files 429 2 retry-after=1"   two 429s with Retry-After
//	"POST /api/v1/jcds/files 503 *"                 every call fails
//	"* /api/v1/packages* drop"                      close the connection once
//	"GET /api/v1/jamf-pro-version delay latency=2s" slow, then normal
//	"PUT /jcds-sim/tmp/* expire-credentials s3"     AWS keys expire at the first S3 PUT
//	"POST /api/v1/jcds/files expire-tokens"         bearer tokens expire when this call arrives
//	"PUT /jcds-sim/tmp/* 500 3 s3"                  three failing S3 PUTs
//
// Jamf faults match the request path (exact, or prefix with a trailing *);
// S3 faults match /BUCKET/KEY at the S3 proxy. Note that net/http silently
// retries an idempotent request whose reused keep-alive connection was
// dropped, so a single "drop" on a GET may go unnoticed by Go clients; use
// a count of 2 or more to make it visible.
//
// # Choices where the real server is not documented
//
//   - Missing privileges: the Jamf Pro API answers 403 with
//     {"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE",…}]}, the
//     Classic API a 403 "Forbidden" status page; both name the missing
//     privilege (the real server does not), so tests can assert on it.
//     Privileges: Create/Read/Update/Delete Packages, Read Categories,
//     Read Cloud Distribution Point (cloud-distribution-point refresh),
//     Create/Read/Delete "Jamf Content Distribution Server Files" before
//     11.20 and "Jamf Cloud Distribution Service Files" from 11.20
//     (initiate and renew need Create; list, get, properties and the jcds
//     refresh need Read; delete needs Delete); v1 {id}/upload needs Update
//     Packages. The version endpoint needs only a valid token.
//   - Bad basic credentials: 401 {"httpStatus":401,"errors":[]}; bad
//     client credentials: 401 {"error":"invalid_client"}; keep-alive with
//     an OAuth client token: 401 INVALID_TOKEN; keep-alive invalidates the
//     old token.
//   - /api/v1/cloud-distribution-point/refresh-inventory exists from
//     11.16 (Options.CDPRefreshSince); /api/v1/jcds/refresh-inventory from
//     11.10; both answer 204 and re-read the bucket (a file that changed
//     behind the inventory's back gets new hashes; package sizes follow).
//   - SHA3_512 before 11.25: v1 400 INVALID_FIELD (field hashType); Classic
//     400 "<p>Error: Problem with hash_type</p>".
//   - Classic category that does not exist: 400 "Problem with category";
//     v1 categoryId that does not exist: 400 INVALID_FIELD (categoryId).
//   - Unsupported extension (not pkg, mpkg, dmg, zip): an object uploaded
//     to tmp/ is dropped and never listed (State.Rejected records
//     "Unsupported file extension"); v1 {id}/upload answers 400
//     INVALID_FIELD "Unsupported file extension".
//   - v1 {id}/upload overwrites a JCDS file of the same name (it belongs
//     to the package); only uploads through JCDS credentials get _1, _2.
//   - A PUT /api/v1/packages/{id} that carries "size" overwrites the
//     stored size (null clears it) and adds "size-written" to
//     Package.Writes, so tests can catch clients that send it.
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
//   - Uploads are moved out of tmp/ by a background loop (every
//     ProcessInterval), right after the proxy sees a PutObject or
//     CompleteMultipartUpload succeed, and before each list; a list waits
//     up to ListWait for a move in progress and does not show files not
//     yet moved. Moves hash the object in one streamed read (MD5 and
//     SHA3-512) and copy server-side (CopyObject up to 5 GiB, UploadPartCopy
//     beyond, streamed copy as a last resort).
//   - The jcds properties body is {"jcds2Enabled":true,
//     "fileStreamEndpointEnabled":true,"maxChunkSize":…} (fields unconfirmed).
package jamfsim
