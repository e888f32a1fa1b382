//! `wait-for`: read the object, then watch it until a field has one of the
//! wanted values, the object goes away or the time is up. The watch is
//! restarted from a fresh read when the server ends it or the resource
//! version is too old.

use std::time::Duration;

use http_body_util::BodyExt;
use kube::api::WatchParams;
use serde_json::Value;

use super::{KubeCall, KubeFailure, Target};

/// What ends a wait successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitCondition {
    /// JSON pointer into the object, e.g. `/status/phase`.
    pub pointer: String,
    pub equals_any: Vec<String>,
}

impl WaitCondition {
    /// The value at the pointer, as text (strings unquoted); `None` when
    /// absent or null.
    pub fn current(&self, object: &Value) -> Option<String> {
        match object.pointer(&self.pointer)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn holds(&self, object: &Value) -> bool {
        self.current(object)
            .is_some_and(|value| self.equals_any.contains(&value))
    }
}

/// How one watch connection ended.
enum WatchEnd {
    Satisfied(String),
    /// Server closed the stream or the version expired: read again.
    Restart,
}

impl KubeCall {
    /// Waits until `condition` holds for the object `target`, for at most
    /// `timeout`. `observe` is told each new value seen (for progress).
    /// Returns the object (JSON text) that satisfied the condition.
    pub async fn wait_for(
        &self,
        target: &Target,
        condition: &WaitCondition,
        timeout: Duration,
        observe: &mut (dyn FnMut(Option<&str>) + Send),
    ) -> Result<String, KubeFailure> {
        if !condition.pointer.is_empty() && !condition.pointer.starts_with('/') {
            return Err(KubeFailure::local(
                "BadRequest",
                format!("`{}` is not a JSON pointer (it must start with `/`)", condition.pointer),
            ));
        }
        let mut last: Option<String> = None;
        let work = async {
            loop {
                let text = self.get(target).await?;
                let object: Value = serde_json::from_str(&text)
                    .map_err(|e| KubeFailure::local("InternalError", format!("the object is not JSON: {e}")))?;
                let value = condition.current(&object);
                if value != last || last.is_none() {
                    observe(value.as_deref());
                    last.clone_from(&value);
                }
                if condition.holds(&object) {
                    return Ok(text);
                }
                let version = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("0")
                    .to_string();
                match self.watch_once(target, condition, &version, &mut last, observe).await? {
                    WatchEnd::Satisfied(text) => return Ok(text),
                    WatchEnd::Restart => continue,
                }
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(KubeFailure::local(
                "Timeout",
                format!(
                    "`{}` did not become {} within {} ms (last value: {})",
                    condition.pointer,
                    condition.equals_any.join(" or "),
                    timeout.as_millis(),
                    last.as_deref().unwrap_or("none")
                ),
            )),
        }
    }

    async fn watch_once(
        &self,
        target: &Target,
        condition: &WaitCondition,
        version: &str,
        last: &mut Option<String>,
        observe: &mut (dyn FnMut(Option<&str>) + Send),
    ) -> Result<WatchEnd, KubeFailure> {
        let name = target.name()?;
        super::selector_name(name)?;
        let collection = Target {
            name: None,
            subresource: None,
            ..target.clone()
        };
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(290);
        let request = collection
            .request()?
            .watch(&params, version)
            .map_err(super::bad_request)?;
        let mut body = self.open_stream("watch", target, request).await?;
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| super::transport_failure(&e))?;
            let Ok(data) = frame.into_data() else { continue };
            buffer.extend_from_slice(&data);
            if buffer.len() > self.max_response_bytes {
                return Err(KubeFailure::too_large(self.max_response_bytes));
            }
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let event: Value = match serde_json::from_slice(&line) {
                    Ok(event) => event,
                    Err(_) => continue,
                };
                let object = &event["object"];
                match event["type"].as_str() {
                    Some("ADDED" | "MODIFIED") => {
                        let value = condition.current(object);
                        if value != *last {
                            observe(value.as_deref());
                            last.clone_from(&value);
                        }
                        if condition.holds(object) {
                            return Ok(WatchEnd::Satisfied(object.to_string()));
                        }
                    }
                    Some("DELETED") => {
                        return Err(KubeFailure {
                            code: 404,
                            reason: "NotFound".into(),
                            message: format!("`{name}` was deleted while waiting"),
                            causes: Vec::new(),
                        });
                    }
                    Some("ERROR") if object["code"].as_u64() == Some(410) => return Ok(WatchEnd::Restart),
                    Some("ERROR") => {
                        let code = object["code"].as_u64().unwrap_or(500) as u16;
                        return Err(KubeFailure::from_answer(
                            http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                            object.to_string().as_bytes(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        // The server ended the watch (its timeout); read again.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(WatchEnd::Restart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn condition_reads_strings_numbers_and_absent_fields() {
        let condition = WaitCondition {
            pointer: "/status/phase".into(),
            equals_any: vec!["Cluster in healthy state".into()],
        };
        let object = json!({"status": {"phase": "Cluster in healthy state", "readyInstances": 3}});
        assert!(condition.holds(&object));
        assert!(!condition.holds(&json!({"status": {}})));
        assert_eq!(condition.current(&json!({"status": {"phase": null}})), None);
        let ready = WaitCondition {
            pointer: "/status/readyInstances".into(),
            equals_any: vec!["3".into()],
        };
        assert!(ready.holds(&object));
    }
}
