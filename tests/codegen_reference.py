"""Runs the converters of a module `envgate codegen python` wrote.

Reads {"module": PATH, "cases": [[kind, value], ...]} on stdin; prints, per case,
[accepted, converted] with converted normalised for comparison: bool as a bool,
int and port as an int, list as a list, duration as whole milliseconds."""

import datetime
import importlib.util
import json
import sys

request = json.load(sys.stdin)
spec = importlib.util.spec_from_file_location("generated_env", request["module"])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

converters = {
    "bool": module._to_bool,
    "int": module._to_int,
    "port": module._to_port,
    "list": module._to_list,
    "duration": module._to_duration,
}
answers = []
for kind, value in request["cases"]:
    try:
        converted = converters[kind]("X", value)
    except module.ConfigError:
        answers.append([False, None])
        continue
    if isinstance(converted, datetime.timedelta):
        converted = converted // datetime.timedelta(milliseconds=1)
    answers.append([True, converted])
json.dump(answers, sys.stdout)
