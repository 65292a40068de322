# Sourced by the bench scripts: write_bench_schema FILE writes the 100-variable
# schema the launch benchmarks use (secrets with rules, ports, ints, URLs with
# schemes, booleans) and fills the array `envs` with valid values for it.
write_bench_schema() {
  local schema=$1 i
  envs=()
  {
    echo "version = 1"
    for i in $(seq 0 99); do
      echo "[vars.VAR_$i]"
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
