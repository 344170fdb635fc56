# jcds2-uploader — see README.md.
SHELL := /bin/bash
GO ?= go
PREFIX ?= /usr/local
# Where AutoPkg finds the processor: a folder it searches by default.
RECIPES_DIR ?= /Library/AutoPkg/Recipes/jcds2-uploader
BIN := bin
DIST := dist
# VERSION (the file) is the release's semver; the binary is stamped with it,
# plus build metadata when this is not a clean checkout of its tag
# (packaging/version.sh). Not taken from the environment: the shim checks it.
RELEASE_VERSION := $(shell cat VERSION)
VERSION := $(shell ./packaging/version.sh)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

MINIO_VERSION := $(shell sed -n 's/^const Version = "\(.*\)"/\1/p' jamf/miniotest/miniotest.go)
TOOLS_DIR ?= $(or $(JCDS2_TOOLS_DIR),$(HOME)/.cache/jcds2-tools)
MINIO_BIN := $(TOOLS_DIR)/minio-$(MINIO_VERSION)/minio
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Release tools, pinned, built once into the tools cache like MinIO.
GORELEASER_VERSION := v2.16.0
GORELEASER := $(TOOLS_DIR)/goreleaser-$(GORELEASER_VERSION)/goreleaser
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS_DIR)/actionlint-$(ACTIONLINT_VERSION)/actionlint
PKG_ID := com.github.jcds2-uploader.pkg
# The binary the installer package carries: the universal one from
# `make release-snapshot` (or the release workflow), else bin/'s.
PKG_BINARY ?= $(firstword $(wildcard $(DIST)/jcds2-uploader_darwin_all/jcds2-uploader) $(BIN)/jcds2-uploader)
# Extra goreleaser flags for `make release` (the workflow passes the
# CHANGELOG's section as --release-notes).
RELEASE_FLAGS ?=
# "Developer ID Installer: Name (TEAMID)" to sign the package with productsign.
PKG_SIGN_IDENTITY ?=
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report its own deadline as a failure ("context deadline exceeded", no
# crasher; golang/go#75804, fixed in Go 1.27). 300,000 inputs take 13-20 s
# on a quiet 2-core machine. FUZZTIME=60s still works for longer runs.
FUZZTIME ?= 300000x
# The end-to-end tests mostly wait (cluster lag, processing, injected
# latency), so more of them run at once than there are cores.
TEST_PARALLEL ?= 8

.PHONY: all build test test-long lint fuzz demo bench tools release-tools release release-snapshot release-check \
	pkg-root pkg install uninstall clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jcds2-uploader .
	$(GO) build -trimpath -o $(BIN)/jamfsim ./jamf/cmd/jamfsim

# The README's test command: a short fuzz of the plist decoder, then the
# shim's tests (under the real AutoPkg) beside the unit, simulator, MinIO
# and end-to-end tests. Both mostly wait on simulated lag and processing,
# so they run side by side (and the shim's modules side by side too,
# recipes/tests/run_side_by_side.sh); the shim's output is held in files
# and printed when the Go suite ends, and either one failing fails the
# target.
SHIM_TEST_LOGS := $(BIN)/shim-tests
test: build tools
	$(MAKE) fuzz
	@./recipes/tests/run_side_by_side.sh $(SHIM_TEST_LOGS) >$(SHIM_TEST_LOGS).log 2>&1 & shim=$$!; \
	echo "shim tests (recipes/): running beside the Go suite, output in $(SHIM_TEST_LOGS).log"; \
	MINIO_BIN=$(MINIO_BIN) $(GO) test -count=1 -parallel $(TEST_PARALLEL) -timeout 30m ./...; gorc=$$?; \
	wait $$shim; shimrc=$$?; \
	echo "== shim tests (recipes/) =="; cat $(SHIM_TEST_LOGS).log; \
	echo "== Go tests: $$([ $$gorc = 0 ] && echo ok || echo FAILED); shim tests: $$([ $$shimrc = 0 ] && echo ok || echo FAILED) =="; \
	[ $$gorc = 0 ] && [ $$shimrc = 0 ]

fuzz:
	$(GO) test ./plistio -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) -fuzzminimizetime 200x

# Multi-GB uploads and the long fault runs.
test-long: build tools
	JCDS2_LONG=1 MINIO_BIN=$(MINIO_BIN) $(GO) test -count=1 -timeout 90m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# MinIO, pinned, built once into the tools cache.
tools: $(MINIO_BIN)

$(MINIO_BIN):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/minio/minio@$(MINIO_VERSION)

# goreleaser and actionlint, for the release targets and CI.
release-tools: $(GORELEASER) $(ACTIONLINT)

$(GORELEASER):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

$(ACTIONLINT):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

# What a release publishes, built locally and unsigned into dist/: the
# darwin arm64 and amd64 binaries joined into one universal binary, the
# archive and checksums.txt; then checked (packaging/releasecheck).
release-snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean
	$(GO) run ./packaging/releasecheck -dist $(DIST) -version $(RELEASE_VERSION)

# The real release (the release workflow, on a vX.Y.Z tag equal to VERSION):
# signs and notarizes when the secrets are set, publishes a draft.
release: $(GORELEASER)
	$(GORELEASER) release --clean $(RELEASE_FLAGS)
	$(GO) run ./packaging/releasecheck -dist $(DIST) -version $(RELEASE_VERSION) $(if $(MACOS_SIGN_P12),-signed)

# The release configuration and the workflows lint clean: ours and the
# nightly AutoPkg example for admins' repositories.
WORKFLOWS := $(wildcard .github/workflows/*.yml) recipes/examples/autopkg-nightly.yml
release-check: $(GORELEASER) $(ACTIONLINT)
	$(GORELEASER) check
	$(ACTIONLINT) -shellcheck= $(WORKFLOWS)

# The installer package's payload, staged (runs anywhere).
pkg-root:
	./packaging/stage-pkg.sh "$(PKG_BINARY)" $(DIST)/pkgroot

# The installer package: pkgbuild (and productsign) exist only on macOS.
pkg: pkg-root
	@if [ "$$(uname -s)" != Darwin ]; then \
		echo "make pkg: the payload is staged in $(DIST)/pkgroot, but pkgbuild needs macOS: run make pkg on a Mac (the release workflow does)." >&2; \
		exit 1; \
	fi
	pkgbuild --root $(DIST)/pkgroot --install-location / --ownership recommended \
		--identifier $(PKG_ID) --version $(RELEASE_VERSION) \
		$(DIST)/jcds2-uploader-$(RELEASE_VERSION)-unsigned.pkg
	@if [ -n "$(PKG_SIGN_IDENTITY)" ]; then \
		productsign --sign "$(PKG_SIGN_IDENTITY)" --timestamp \
			$(DIST)/jcds2-uploader-$(RELEASE_VERSION)-unsigned.pkg $(DIST)/jcds2-uploader-$(RELEASE_VERSION).pkg && \
		rm $(DIST)/jcds2-uploader-$(RELEASE_VERSION)-unsigned.pkg; \
	else \
		mv $(DIST)/jcds2-uploader-$(RELEASE_VERSION)-unsigned.pkg $(DIST)/jcds2-uploader-$(RELEASE_VERSION).pkg; \
		echo "make pkg: unsigned; set PKG_SIGN_IDENTITY='Developer ID Installer: …' to sign" >&2; \
	fi
	@echo "built $(DIST)/jcds2-uploader-$(RELEASE_VERSION).pkg"

demo: build
	./recipes/demo.sh

# Upload engine vs boto3 and aws-cli, then the end-to-end figures.
bench: build tools
	BENCH_WRITE=1 MINIO_BIN=$(MINIO_BIN) ./jamf/s3upload/bench/bench.sh
	MINIO_BIN=$(MINIO_BIN) ./processor/bench/bench.sh

# Installs what `make build` made; builds nothing, so `sudo make install`
# never runs the Go toolchain as root.
install:
	@test -x $(BIN)/jcds2-uploader || { echo "make install: $(BIN)/jcds2-uploader is missing; run make build first (as yourself, not with sudo)" >&2; exit 1; }
	RECIPES_DIR="$(RECIPES_DIR)" ./recipes/install.sh "$(PREFIX)" "$(DESTDIR)"

uninstall:
	RECIPES_DIR="$(RECIPES_DIR)" ./recipes/uninstall.sh "$(PREFIX)" "$(DESTDIR)"

clean:
	rm -rf $(BIN) $(DIST)
