//! Open vSwitch through its management protocol, OVSDB JSON-RPC (RFC 7047), over TCP: one
//! `transact` per read (select) and per write (update + mutate, atomic), after which the write
//! waits for ovs-vswitchd to apply it (`next_cfg`/`cur_cfg`, as ovs-vsctl does). No SSH involved.
//!
//! A connection per call keeps this simple and robust against ovsdb-server restarts; a call
//! costs one TCP handshake on the management network.
//! TODO(robustness): TLS (`ssl:` remotes) for OVSDB outside a lab.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::datum::{self, PortColumns};
use super::{InterfaceName, SwitchError, SwitchPortState};

pub struct Ovsdb {
    device: String,
    address: SocketAddr,
    timeout: Duration,
}

const DATABASE: &str = "Open_vSwitch";

impl Ovsdb {
    pub fn new(device: impl Into<String>, address: SocketAddr, timeout: Duration) -> Self {
        Self { device: device.into(), address, timeout }
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    pub(super) async fn read(&self, port: &InterfaceName) -> Result<SwitchPortState, SwitchError> {
        let results = self.transact(vec![json!({"op": "select", "table": "Port", "where": by_name(port), "columns": datum::COLUMNS})]).await?;
        let rows = results.first().and_then(|r| r["rows"].as_array()).ok_or_else(|| self.unexpected("select returned no rows array"))?;
        let Some(row) = rows.first().and_then(Value::as_object) else {
            return Ok(SwitchPortState::missing(port.clone()));
        };
        let row: BTreeMap<String, Value> = row.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        datum::state_from_row(&self.device, port, &row)
    }

    /// Every port of the switch in one `select` (the drift check's batched read).
    pub(super) async fn read_all(&self) -> Result<BTreeMap<String, BTreeMap<String, Value>>, SwitchError> {
        let results = self.transact(vec![json!({"op": "select", "table": "Port", "where": [], "columns": datum::COLUMNS})]).await?;
        let rows = results.first().and_then(|r| r["rows"].as_array()).ok_or_else(|| self.unexpected("select returned no rows array"))?;
        Ok(rows
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|row| Some((row.get("name")?.as_str()?.to_string(), row.iter().map(|(k, v)| (k.clone(), v.clone())).collect())))
            .collect())
    }

    pub(super) async fn write(&self, desired: &SwitchPortState) -> Result<(), SwitchError> {
        let cols = PortColumns::for_state(desired);
        let port = &desired.port;
        // `insert` on a map keeps an existing key's old value (RFC 7047 §5.1), so first delete
        // every managed key, then insert the ones that should be there.
        let managed: Vec<&str> = cols.external_ids.iter().map(|(k, _)| *k).collect();
        let present: Vec<[&str; 2]> = cols.external_ids.iter().filter_map(|(k, v)| v.as_deref().map(|v| [*k, v])).collect();
        let ops = vec![
            json!({"op": "update", "table": "Port", "where": by_name(port),
                   "row": {"tag": cols.tag_datum(), "trunks": cols.trunks_datum(), "vlan_mode": cols.vlan_mode_datum()}}),
            json!({"op": "mutate", "table": "Port", "where": by_name(port), "mutations": [
                ["external_ids", "delete", ["set", managed]],
                ["external_ids", "insert", ["map", present]],
            ]}),
            // Ask ovs-vswitchd to confirm it has applied this transaction, as ovs-vsctl does.
            json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]}),
            json!({"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}),
            json!({"op": "comment", "comment": format!("kolokasi: port {port}")}),
        ];
        let results = self.transact(ops).await?;
        if results.first().and_then(|r| r["count"].as_u64()) != Some(1) {
            return Err(SwitchError::PortMissing { device: self.device.clone(), port: port.to_string() });
        }
        let next_cfg = results.get(3).and_then(|r| r["rows"][0]["next_cfg"].as_i64()).ok_or_else(|| self.unexpected("no next_cfg"))?;
        self.wait_applied(next_cfg).await
    }

    /// Waits until ovs-vswitchd reports `cur_cfg >= next_cfg`: the datapath carries the change,
    /// not only the database.
    async fn wait_applied(&self, next_cfg: i64) -> Result<(), SwitchError> {
        let started = tokio::time::Instant::now();
        loop {
            let results = self.transact(vec![json!({"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["cur_cfg"]})]).await?;
            let cur_cfg = results.first().and_then(|r| r["rows"][0]["cur_cfg"].as_i64()).ok_or_else(|| self.unexpected("no cur_cfg"))?;
            if cur_cfg >= next_cfg {
                return Ok(());
            }
            if started.elapsed() > self.timeout {
                return Err(SwitchError::OvsdbTimeout { device: self.device.clone(), after: self.timeout });
            }
            // TODO(robustness): an OVSDB `monitor` would push the change instead of polling.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// One `transact`; fails if any operation (or the transaction as a whole) reports an error.
    async fn transact(&self, ops: Vec<Value>) -> Result<Vec<Value>, SwitchError> {
        let mut params = vec![json!(DATABASE)];
        params.extend(ops);
        let answer = tokio::time::timeout(self.timeout, self.call("transact", Value::Array(params)))
            .await
            .map_err(|_| SwitchError::OvsdbTimeout { device: self.device.clone(), after: self.timeout })??;
        let results = answer.as_array().cloned().ok_or_else(|| self.unexpected("transact result is not an array"))?;
        if let Some(e) = results.iter().find(|r| r.get("error").is_some_and(|e| !e.is_null())) {
            let message = format!("{} {}", e["error"].as_str().unwrap_or("error"), e["details"].as_str().unwrap_or(""));
            return Err(SwitchError::OvsdbRefused { device: self.device.clone(), message: message.trim().to_string() });
        }
        Ok(results)
    }

    /// Sends one request and waits for its response, answering the server's `echo` probes.
    async fn call(&self, method: &str, params: Value) -> Result<Value, SwitchError> {
        let io = |source| SwitchError::OvsdbConnect { device: self.device.clone(), address: self.address, source };
        let mut stream = TcpStream::connect(self.address).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let request = json!({"method": method, "params": params, "id": 1});
        stream.write_all(&serde_json::to_vec(&request).expect("serialisable")).await.map_err(io)?;
        let mut buf = Vec::new();
        loop {
            // JSON-RPC over a stream has no framing: messages are JSON texts back to back.
            let mut messages = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>();
            match messages.next() {
                Some(Ok(message)) => {
                    let used = messages.byte_offset();
                    buf.drain(..used);
                    if message["id"] == json!(1) && message.get("method").is_none() {
                        if !message["error"].is_null() {
                            return Err(SwitchError::OvsdbRefused { device: self.device.clone(), message: message["error"].to_string() });
                        }
                        return Ok(message["result"].clone());
                    }
                    if message["method"] == "echo" {
                        let reply = json!({"id": message["id"], "result": message["params"], "error": null});
                        stream.write_all(&serde_json::to_vec(&reply).expect("serialisable")).await.map_err(io)?;
                    }
                    continue;
                }
                Some(Err(e)) if !e.is_eof() => return Err(self.unexpected(&format!("not JSON: {e}"))),
                _ => {}
            }
            if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
                return Err(self.unexpected("the server closed the connection before answering"));
            }
        }
    }

    fn unexpected(&self, message: &str) -> SwitchError {
        SwitchError::Unexpected { device: self.device.clone(), message: format!("OVSDB: {message}") }
    }
}

fn by_name(port: &InterfaceName) -> Value {
    json!([["name", "==", port.as_str()]])
}
