#!/bin/sh
# Placeholder for Bazel's coverage tools: microturn has no offline `bazel coverage`.
echo "bazel coverage is not supported in microturn (offline stand-in for remote_coverage_tools)" >&2
exit 1
