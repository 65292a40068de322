//! Integration tests: the real `envgate` binary, a cleared environment.

mod harness;
mod moto;
mod proxy;

mod agent;
mod agentd;
mod alerts;
mod audit;
mod build;
mod canary;
mod check;
mod codegen;
mod completions;
mod django;
mod docs;
mod exec;
mod gate;
mod generated;
mod init;
mod parameters;
mod pg;
mod precommit;
mod reference;
mod rotation;
mod rotation_guard;
mod rotation_pg;
mod scan;
mod schema_errors;
mod secrets;
mod secrets_dir;
mod supervise;
mod wheel;
