# Sourced by the bench scripts: write_bench_schema FILE [COUNT] writes the
# COUNT-variable (default 100) schema the launch benchmarks use (secrets with rules, ports, ints, URLs with
# schemes, booleans, and in each hundred 25 strings with patterns, distinct within
# the hundred and the same in every hundred) and fills the array
# `envs` with valid values for it.
write_bench_schema() {
  local schema=$1 count=${2:-100} i
  envs=()
  {
    echo "version = 1"
    for i in $(seq 0 $((count - 1))); do
      echo "[vars.VAR_$i]"
      if [ $((i % 100)) -ge 75 ]; then
        echo "pattern = '^(abc$((i % 100))|k3)[a-z0-9]{5,45}\$'"
        envs+=("VAR_$i=abc$((i % 100))x1y2z3")
        continue
      fi
      case $((i % 5)) in
        0) echo 'min_length = 8'; echo 'forbid = ["example"]'; echo 'sensitive = true'; envs+=("VAR_$i=s3cr3t-value-$i") ;;
        1) echo 'type = "port"'; envs+=("VAR_$i=5432") ;;
        2) echo 'type = "int"'; echo 'min = 0'; envs+=("VAR_$i=$i") ;;
        3) echo 'type = "url"'; echo 'schemes = ["https"]'; envs+=("VAR_$i=https://svc$i.example.com/x") ;;
        4) echo 'type = "bool"'; envs+=("VAR_$i=false") ;;
      esac
    done
  } > "$schema"
}
