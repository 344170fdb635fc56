package jamfsim

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
)

// apiError is the Jamf Pro API error body.
type apiError struct {
	HTTPStatus int           `json:"httpStatus"`
	Errors     []apiErrorRow `json:"errors"`
}

type apiErrorRow struct {
	Code        string  `json:"code"`
	Description string  `json:"description"`
	ID          *string `json:"id"`
	Field       *string `json:"field"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeAPIError answers with the Jamf Pro API error shape.
func writeAPIError(w http.ResponseWriter, status int, code, desc, field string) {
	zero := "0"
	row := apiErrorRow{Code: code, Description: desc, ID: &zero}
	if field != "" {
		row.Field = &field
	}
	writeAPIErrorRow(w, status, row)
}

func writeAPIErrorRow(w http.ResponseWriter, status int, row apiErrorRow) {
	writeJSON(w, status, apiError{HTTPStatus: status, Errors: []apiErrorRow{row}})
}

// classicStatusPage is the HTML the Classic API answers errors with; the
// message sits in <p>Error: …</p> (404: "The server has not found anything
// matching the request URI").
func writeClassicError(w http.ResponseWriter, status int, msg string) {
	title := http.StatusText(status)
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<html>
<head>
   <title>Status page</title>
</head>
<body style="font-family: sans-serif;">
<p style="font-size: 1.2em;font-weight: bold;margin: 1em 0px;">%s</p>
<p>Error: %s</p>
<p>You can get technical details <a href="http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html">here</a>.<br>
Please continue your visit at our <a href="/">home page</a>.
</p>
</body>
</html>
`, html.EscapeString(title), html.EscapeString(msg))
}

const classicNotFound = "The server has not found anything matching the request URI"

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header[:len(xml.Header)-1]))
	_ = xml.NewEncoder(w).Encode(v)
}

// s3Error is the S3 XML error body.
func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>jamfsim</RequestId></Error>`, code, html.EscapeString(msg))
}
