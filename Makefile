# goloadtest — see README.md
SWIFT ?= swift
PLUGINS := Tools/ProtocPlugins/.build/release
GENERATED := Sources/Cluster/Protocol

.PHONY: deps build test demo generate plugins lint bench clean

# What the build and the tests need from Debian: SQLite's headers for GRDB, and the sqlite3
# command the fault-tolerance tests use to damage and check database files.
deps:
	@dpkg -s libsqlite3-dev sqlite3 >/dev/null 2>&1 || { \
	  echo "installing libsqlite3-dev sqlite3"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq libsqlite3-dev sqlite3; }

build: deps
	$(SWIFT) build -c release --product goloadtest
	@echo "binary: $$($(SWIFT) build -c release --show-bin-path)/goloadtest"

# Tests that time things (run shapes, how fast a dead peer is noticed) run on their own, after
# the rest, so that other suites do not compete with them for the two cores.
TIMED := LoadShapeTests|LostSlaveTests|FaultToleranceTests

test: deps
	$(SWIFT) build --product goloadtest
	$(SWIFT) test --skip "$(TIMED)"
	$(SWIFT) test --skip-build --filter "LoadShapeTests|LostSlaveTests"
	$(SWIFT) test --skip-build --filter FaultToleranceTests

demo: deps
	bash scripts/demo.sh

# Regenerates the committed protobuf/gRPC Swift from Protos/result/result.proto.
# Needs protoc (Debian: protobuf-compiler). The plugins are built once, in release.
generate: plugins
	protoc --proto_path=Protos \
	  --plugin=protoc-gen-swift=$(PLUGINS)/protoc-gen-swift \
	  --plugin=protoc-gen-grpc-swift-2=$(PLUGINS)/protoc-gen-grpc-swift-2 \
	  --swift_out=$(GENERATED) --swift_opt=Visibility=Public \
	  --grpc-swift-2_out=$(GENERATED) --grpc-swift-2_opt=Visibility=Public \
	  result/result.proto
	mv $(GENERATED)/result/* $(GENERATED)/ && rmdir $(GENERATED)/result

plugins:
	cd Tools/ProtocPlugins && $(SWIFT) build -c release --product protoc-gen-swift
	cd Tools/ProtocPlugins && $(SWIFT) build -c release --product protoc-gen-grpc-swift-2

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build Tools/ProtocPlugins/.build

# Benchmarks (figures in README.md): the engine against wrk, and reports of a big history.
bench:
	bash bench/engine.sh 3 10
	bash bench/report.sh
