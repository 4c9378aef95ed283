#!/usr/bin/env bash
# Runs `xks-lint check` for action.yml from its INPUT_* variables and records the exit code
# as the step output `exit-code` (the action fails after the SARIF upload, not before).
set -uo pipefail

# The argument list for `xks-lint check`, one argument per line (inputs are split on
# whitespace like a shell word list, never evaluated).
xks_lint_arguments() {
  local -a out=(check)
  local -a words
  read -r -a words <<< "${INPUT_PATH:-.}"
  out+=("${words[@]}")
  out+=(--format "${INPUT_FORMAT:-github}")
  if [ -n "${INPUT_SARIF:-}" ]; then
    out+=(--output "${INPUT_FORMAT:-github}=-" --output "sarif=$INPUT_SARIF")
    out+=(--sarif-category "${INPUT_SARIF_CATEGORY:-xks-lint}")
  fi
  if [ -n "${INPUT_FAIL_ON:-}" ]; then out+=(--fail-on "$INPUT_FAIL_ON"); fi
  if [ -n "${INPUT_CONFIG:-}" ]; then out+=(--config "$INPUT_CONFIG"); fi
  if [ -n "${INPUT_NEW_FROM_REV:-}" ]; then out+=(--new-from-rev "$INPUT_NEW_FROM_REV"); fi
  if [ -n "${INPUT_ARGS:-}" ]; then
    read -r -a words <<< "$INPUT_ARGS"
    out+=("${words[@]}")
  fi
  printf '%s\n' "${out[@]}"
}

xks_lint_run() {
  local -a arguments
  mapfile -t arguments < <(xks_lint_arguments)
  "${XKS_LINT:-xks-lint}" "${arguments[@]}"
  local code=$?
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "exit-code=$code" >> "$GITHUB_OUTPUT"; fi
  # The step itself succeeds: the action's last step fails with this code after the upload.
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  xks_lint_run
fi
