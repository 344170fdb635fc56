# jcds2-uploader — see README.md.
SHELL := /bin/bash
GO ?= go
PREFIX ?= /usr/local
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

MINIO_VERSION := $(shell sed -n 's/^const Version = "\(.*\)"/\1/p' jamf/miniotest/miniotest.go)
TOOLS_DIR ?= $(or $(JCDS2_TOOLS_DIR),$(HOME)/.cache/jcds2-tools)
MINIO_BIN := $(TOOLS_DIR)/minio-$(MINIO_VERSION)/minio
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 20s

.PHONY: all build test test-long lint fuzz cross demo bench tools install clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/jcds2-uploader .
	$(GO) build -trimpath -o $(BIN)/jamfsim ./jamf/cmd/jamfsim

# The README's test command: a short fuzz of the plist decoder, the shim's
# tests, then the unit, simulator, MinIO and end-to-end tests.
# The Go suite runs last so its summary closes the output.
test: build tools
	$(MAKE) fuzz
	python3 -m unittest discover -s recipes -p 'test_*.py'
	MINIO_BIN=$(MINIO_BIN) $(GO) test -count=1 -timeout 30m ./...

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

cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/darwin-arm64/jcds2-uploader .
	GOOS=darwin GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/darwin-amd64/jcds2-uploader .
	python3 recipes/make-universal.py dist/jcds2-uploader dist/darwin-arm64/jcds2-uploader dist/darwin-amd64/jcds2-uploader

demo: build
	./recipes/demo.sh

# Upload engine vs boto3 and aws-cli, then the end-to-end figures.
bench: build tools
	MINIO_BIN=$(MINIO_BIN) ./jamf/s3upload/bench/bench.sh
	MINIO_BIN=$(MINIO_BIN) ./processor/bench/bench.sh

install: build
	./recipes/install.sh "$(PREFIX)" "$(DESTDIR)"

clean:
	rm -rf $(BIN) dist
