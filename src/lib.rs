//! kolokasi — runs Diskominfo Kaltim's co-location and application-hosting SOP as a tracked
//! request, and does the technical part of it (addresses, DNS, switch port, firewall, inspection,
//! handover) itself.
//!
//! # Layout
//! - [`domain`]: typed values parsed once from forms (NIP, FQDN, server spec, the four SOP forms).
//! - [`lifecycle`]: the SOP as a state machine, the roles that may move it, and the SLA clock.
//! - [`capacity`]: the data-center inventory (NOC, racks, power, UPS, genset, uplinks) and placement.
//! - [`ipam`]: IP pools per NOC/VLAN and the offset arithmetic behind race-free allocation.
//! - [`lab`]: the description of the local lab of real servers (for tests, demo, benchmarks).
//! - [`dns`]: DNS providers (RFC 2136 + TSIG, PowerDNS API) with read-back verification.
//! - [`ssh`]: the SSH session pool (one russh connection per device), remote commands, quoting.
//! - [`switch`]: switch-port drivers (Open vSwitch over SSH or OVSDB JSON-RPC) and port values.
//! - [`firewall`]: firewall drivers (nftables over SSH) and the typed rules they install.
//! - [`hosting`]: application hosting on Kubernetes (namespace, quota, policies, ingress, RBAC).
//! - [`drift`]: drift check and repair: devices read back against what the run log says was written.
//! - [`evidence`]: the evidence bundle of one request (forms, run logs, read-backs, inspection,
//!   documents, audit slice) and its offline check.
//! - [`inspect`]: server inspection (SOP step 8): facts over SSH, compared with the declared spec.
//! - [`notify`]: SOP notices (approval, completion report) by SMTP e-mail and signed webhook.
//! - [`secrets`]: the `Secret` type that never prints, and AEAD sealing under the master key.
//! - [`store`]: SQLite or PostgreSQL through one portable schema; requests, history, audit,
//!   name claims, DNS record owners and the device read-backs kept with runs.
//! - [`service`]: the operations every front end shares (CLI, REST API), each one audited.
//! - [`engine`]: playbook runs: steps with forward and undo, durable run log, resume, workers.
//! - [`actions`]: the built-in actions, one file each (address, DNS, gate, …).
//! - [`auth`]: passwords (argon2id), the office directory (LDAP), API tokens (random, stored as SHA-256), sign-in limits.
//! - [`documents`]: the SOP's forms and the berita acara from `templates/`, as HTML and PDF.
//! - [`api`]: the REST API (axum), its error type and its OpenAPI document, generated from the handlers.
//! - [`console`]: the web console (server-rendered, Bahasa Indonesia / English), served with the API.
//! - [`cli`]: the command-line interface, one file per noun.
//! - [`config`]: layered settings (file, then `KOLOKASI_*` environment).
//! - [`metrics`]: Prometheus metrics (step durations and failures, store counts) for `/metrics`.

pub mod actions;
pub mod api;
pub mod auth;
pub mod capacity;
pub mod cli;
pub mod config;
pub mod console;
pub mod dns;
pub mod documents;
pub mod domain;
pub mod drift;
pub mod engine;
pub mod evidence;
pub mod firewall;
pub mod hosting;
pub mod inspect;
pub mod ipam;
pub mod lab;
pub mod lifecycle;
pub mod notify;
pub mod metrics;
pub mod secrets;
pub mod service;
pub mod ssh;
pub mod switch;
pub mod store;
