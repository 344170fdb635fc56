package processor

import (
	"context"
	"io"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

// jamfAPI is what the steps ask of Jamf Pro: *jamf.Client in a run, a
// fake in a step's test where the simulator is not the point.
type jamfAPI interface {
	EnsureFreshToken(ctx context.Context) error

	FindPackage(ctx context.Context, name string) (*jamf.Package, error)
	FindPackageClassic(ctx context.Context, name string) (*jamf.Package, error)
	GetPackage(ctx context.Context, id string) (*jamf.Package, error)
	CreatePackage(ctx context.Context, p *jamf.Package) (string, error)
	CreatePackageClassic(ctx context.Context, p *jamf.Package) (string, error)
	UpdatePackage(ctx context.Context, p *jamf.Package) error
	UpdatePackageClassic(ctx context.Context, p *jamf.Package) error
	DeletePackage(ctx context.Context, id string) error
	UploadPackageV1(ctx context.Context, id, path, fileName string, wrap func(io.Reader) io.Reader) error
	FindCategory(ctx context.Context, name string) (*jamf.Category, error)

	JCDSFiles(ctx context.Context) ([]jamf.JCDSFile, error)
	InitiateUpload(ctx context.Context) (*jamf.UploadCredentials, error)
	RenewCredentials(ctx context.Context) (*jamf.UploadCredentials, error)
	DeleteJCDSFile(ctx context.Context, name string) error

	RefreshInventory(ctx context.Context, fileName string, v jamf.Version) (perFile bool, err error)
	CloudUploadCapability(ctx context.Context) (*jamf.UploadCapability, error)
	CloudFiles(ctx context.Context, fileName string) ([]jamf.CloudFile, error)
}

var _ jamfAPI = (*jamf.Client)(nil)
