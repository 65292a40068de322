# Sourced by the bench scripts: what each needs before it measures.
#
#   needs_commands NAME hyperfine openssl   # fails naming what to install
#   installed_envgate                       # the binary the README installs; prints its path
#   secretspec_with awssm                   # secretspec 0.21 with one provider; prints its path
. scripts/lib/musl-target.sh

needs_commands() {
  local script=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$script: install $tool (apt-get install $tool)" >&2; return 1; }
  done
}

installed_envgate() {
  local target
  target=$(musl_target)
  cargo install --locked --quiet --path . --target "$target" --root target/installed
  echo "$PWD/target/installed/bin/envgate"
}

# awssm builds into .tools (where the scripts have always kept it), awsps into
# .tools/awsps: one secretspec binary per provider set.
secretspec_with() {
  local provider=$1 root=.tools
  [ "$provider" = awssm ] || root=.tools/$provider
  if [ ! -x "$root/bin/secretspec" ]; then
    echo "building secretspec 0.21 with $provider into $root (a few minutes)" >&2
    cargo install --locked --quiet secretspec --version '~0.21' \
      --no-default-features --features "cli,$provider" --root "$root"
  fi
  echo "$PWD/$root/bin/secretspec"
}
