# Sourced by the image scripts: ENGINE is docker when its daemon answers, else podman; an ENGINE the caller set wins.
if [ -z "${ENGINE:-}" ]; then
  if docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  else echo "no container engine: neither a docker daemon nor podman answers" >&2; exit 1
  fi
fi
