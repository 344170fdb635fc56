package processor

import (
	"context"
	"fmt"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

// jcdsDeprecated is the x-deprecation-date of every /api/v1/jcds/*
// operation in Jamf Pro's own API documents (11.25.2 and later).
const jcdsDeprecated = "2025-08-28"

// chooseMode settles the upload mode against what the server offers today:
// its version, whether the JCDS endpoints answer (their file list is the
// probe, and the decision needs it anyway), and on 11.23+ the cloud
// distribution point's upload capability. Never /api/v1/jcds/properties,
// which Jamf removed in 11.19. It returns the JCDS list when it was read.
//
// Without upload_mode (the default) a server whose JCDS endpoints are gone
// gets the v1 upload with one warning, so a nightly run keeps working the
// day Jamf removes them; only an explicit upload_mode jcds2 fails then.
func (u *uploader) chooseMode(ctx context.Context) ([]jamf.JCDSFile, bool, error) {
	cfg := u.cfg
	if cfg.UploadMode == ModeV1 {
		if u.classic() {
			return nil, false, fmt.Errorf("upload_mode v1 needs Jamf Pro 11.5 or later; %s is %s: remove upload_mode (the default uploads through the JCDS here)", cfg.URL, u.version.Raw)
		}
		u.res.Mode = ModeV1
		// The JCDS list, where it still answers, tells whether identical
		// bytes are already there and whether a file of this name predates
		// the run.
		files, err := u.client.JCDSFiles(ctx)
		if err != nil {
			u.log.Debug().Err(err).Msg("no JCDS list; comparing with the package record instead")
			return nil, false, nil
		}
		return files, true, nil
	}
	u.res.Mode = ModeJCDS2
	files, err := u.client.JCDSFiles(ctx)
	if err == nil {
		return files, true, nil
	}
	gone, none := jamf.JCDSGone(err), jamf.NoJCDS(err)
	switch {
	case !gone && !none && cfg.UploadMode != ModeJCDS2 && u.version.AtLeast(11, 23):
		// Before 11.25.2 an instance without JCDS 2.0 answered 500 here
		// (jamf/JamfSync#80): the upload capability says whether any cloud
		// distribution point takes uploads.
		if capable, cerr := u.client.CloudUploadCapability(ctx); cerr == nil && !capable.DirectUploadCapable {
			return nil, false, fmt.Errorf("%s has no cloud distribution point that takes uploads (upload-capability: directUploadCapable false), and its JCDS list fails: %w. Set up Jamf Cloud Distribution Service in Jamf Pro's settings", cfg.URL, err)
		}
		return nil, false, err
	case !gone && !none:
		return nil, false, err
	case cfg.UploadMode == ModeJCDS2 && gone:
		return nil, false, fmt.Errorf("upload_mode jcds2: Jamf Pro %s at %s no longer has the JCDS endpoints (/api/v1/jcds/*, deprecated by Jamf on %s and now removed): %w. Remove upload_mode from the recipe or override (the default then uploads through /api/v1/packages/{id}/upload), or set upload_mode to v1",
			u.version.Raw, cfg.URL, jcdsDeprecated, err)
	case cfg.UploadMode == ModeJCDS2:
		return nil, false, err
	case u.classic():
		return nil, false, fmt.Errorf("this Jamf Pro (%s) is older than 11.5, so it has no /api/v1/packages/{id}/upload, and its JCDS endpoints do not answer: %w", u.version.Raw, err)
	}
	if u.version.AtLeast(11, 23) {
		capable, cerr := u.client.CloudUploadCapability(ctx)
		switch {
		case cerr != nil:
			u.log.Debug().Err(cerr).Msg("upload capability not readable; trying the v1 upload")
		case !capable.DirectUploadCapable:
			return nil, false, fmt.Errorf("%s has no JCDS endpoints (%v) and its cloud distribution point does not take uploads through /api/v1/packages/{id}/upload (upload-capability: directUploadCapable false); check the cloud distribution point in Jamf Pro's settings", cfg.URL, err)
		}
	}
	if gone {
		u.log.Warn().Msgf("the JCDS endpoints are gone from Jamf Pro %s (deprecated by Jamf on %s); uploading through /api/v1/packages/{id}/upload instead. Nothing to change in the recipe", u.version.Raw, jcdsDeprecated)
	} else {
		u.log.Warn().Err(err).Msg("this Jamf Pro has no JCDS 2.0; uploading through /api/v1/packages/{id}/upload instead")
	}
	u.res.Mode = ModeV1
	return nil, false, nil
}
