//! Sessions that do not pin a client to one replica.
//!
//! The session revisions (2025-x) give each client an `Mcp-Session-Id`.
//! rmcp keeps a session in the process that created it; when a request
//! names a session the process does not know, rmcp asks a
//! [`SessionStore`] for the session's `initialize` parameters and replays
//! the handshake. Instead of a shared database, the id we hand out *is*
//! that state: `Mcp-Session-Id` carries rmcp's id and the `initialize`
//! parameters, sealed (HMAC-SHA256, expiry) with the key every replica
//! shares and bound to the caller's issuer and subject. The front end
//! opens the seal on each request, gives rmcp its plain id, and leaves the
//! parameters where [`SealedSessionStore::load`] finds them.
//!
//! What does not move between replicas: an open SSE stream, a pending
//! server-to-client request (elicitation) and the session's log level.
//! A DELETE ends the session on the replica that receives it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use rmcp::model::{InitializeRequestParams, RequestStateCodec, SealOptions};
use rmcp::transport::streamable_http_server::session::store::{SessionState, SessionStore, SessionStoreError};
use serde::{Deserialize, Serialize};

use crate::caller::Caller;

/// How long a session id stays valid after `initialize`.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Ended sessions remembered per process, so a deleted session is not
/// brought back from its sealed id.
const ENDED_KEPT: usize = 10_000;

#[derive(Serialize, Deserialize)]
struct SealedSession {
    /// rmcp's id for the session.
    id: String,
    init: InitializeRequestParams,
}

/// Issues and opens sealed session ids; implements rmcp's store.
pub struct SealedSessionStore {
    codec: RequestStateCodec,
    /// Sealed ids minted during `initialize`, waiting for the front end to
    /// put them on the response (keyed by rmcp's id).
    issued: Mutex<HashMap<String, String>>,
    /// Parameters of sessions named by requests in flight (keyed by rmcp's
    /// id), for rmcp to restore from.
    restorable: Mutex<HashMap<String, InitializeRequestParams>>,
    ended: Mutex<(HashMap<String, ()>, VecDeque<String>)>,
}

/// Why a presented session id was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionRejection {
    /// Forged, modified, expired or issued to another caller.
    Invalid,
    /// Ended by DELETE.
    Ended,
}

fn binding(caller: &Caller) -> Vec<u8> {
    format!("mcp-session\n{}\n{}", caller.issuer, caller.subject).into_bytes()
}

impl SealedSessionStore {
    /// `key` must be at least 32 bytes of high-entropy material.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        let codec = RequestStateCodec::try_new(key.to_vec()).map_err(|e| format!("session key: {e}"))?;
        Ok(SealedSessionStore {
            codec,
            issued: Mutex::new(HashMap::new()),
            restorable: Mutex::new(HashMap::new()),
            ended: Mutex::new((HashMap::new(), VecDeque::new())),
        })
    }

    /// Takes the sealed id minted for rmcp's `id` during `initialize`,
    /// sealed for `caller`.
    pub fn take_issued(&self, id: &str, caller: &Caller) -> Option<String> {
        let init = self.issued.lock().ok()?.remove(id)?;
        let init: InitializeRequestParams = serde_json::from_str(&init).ok()?;
        let sealed = SealedSession {
            id: id.to_string(),
            init,
        };
        let bound = binding(caller);
        let options = SealOptions::new().associated_data(&bound).ttl(SESSION_LIFETIME);
        self.codec.seal_json_with(&sealed, &options).ok()
    }

    /// Opens a presented id: rmcp's id, with its parameters made available
    /// to [`SessionStore::load`] until [`Self::release`].
    pub fn open(&self, presented: &str, caller: &Caller) -> Result<String, SessionRejection> {
        let sealed: SealedSession = self
            .codec
            .open_json_with(presented, &binding(caller))
            .map_err(|_| SessionRejection::Invalid)?;
        if self.ended.lock().is_ok_and(|ended| ended.0.contains_key(&sealed.id)) {
            return Err(SessionRejection::Ended);
        }
        if let Ok(mut restorable) = self.restorable.lock() {
            restorable.insert(sealed.id.clone(), sealed.init);
        }
        Ok(sealed.id)
    }

    /// Drops the parameters [`Self::open`] made available.
    pub fn release(&self, id: &str) {
        if let Ok(mut restorable) = self.restorable.lock() {
            restorable.remove(id);
        }
    }

    /// Remembers that a session was ended by DELETE.
    pub fn end(&self, id: &str) {
        if let Ok(mut ended) = self.ended.lock() {
            let (set, order) = &mut *ended;
            if set.insert(id.to_string(), ()).is_none() {
                order.push_back(id.to_string());
                while order.len() > ENDED_KEPT {
                    if let Some(old) = order.pop_front() {
                        set.remove(&old);
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SealedSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let init = self
            .restorable
            .lock()
            .map_err(|_| "session store lock poisoned")?
            .get(session_id)
            .cloned();
        Ok(init.map(SessionState::new))
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let init = serde_json::to_string(&state.initialize_params)?;
        self.issued
            .lock()
            .map_err(|_| "session store lock poisoned")?
            .insert(session_id.to_string(), init);
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.end(session_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() -> SessionState {
        let params: InitializeRequestParams = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}
        }))
        .unwrap();
        SessionState::new(params)
    }

    fn caller(subject: &str) -> Caller {
        Caller {
            subject: subject.into(),
            ..Caller::local()
        }
    }

    #[tokio::test]
    async fn another_replica_with_the_same_key_restores_the_session() {
        let a = SealedSessionStore::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let b = SealedSessionStore::new(b"0123456789abcdef0123456789abcdef").unwrap();
        a.store("rmcp-1", &init()).await.unwrap();
        let sealed = a.take_issued("rmcp-1", &caller("alice")).unwrap();
        assert!(sealed.bytes().all(|c| (0x21..=0x7e).contains(&c)), "visible ASCII only");
        let id = b.open(&sealed, &caller("alice")).unwrap();
        assert_eq!(id, "rmcp-1");
        let state = b.load("rmcp-1").await.unwrap().expect("restorable");
        assert_eq!(state.initialize_params.client_info.name, "t");
        b.release("rmcp-1");
        assert!(b.load("rmcp-1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn forged_foreign_or_ended_ids_are_refused() {
        let a = SealedSessionStore::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let other = SealedSessionStore::new(b"fedcba9876543210fedcba9876543210").unwrap();
        a.store("rmcp-2", &init()).await.unwrap();
        let sealed = a.take_issued("rmcp-2", &caller("alice")).unwrap();
        assert_eq!(other.open(&sealed, &caller("alice")), Err(SessionRejection::Invalid));
        assert_eq!(a.open(&sealed, &caller("mallory")), Err(SessionRejection::Invalid));
        let mut tampered = sealed.clone();
        tampered.push('x');
        assert_eq!(a.open(&tampered, &caller("alice")), Err(SessionRejection::Invalid));
        a.delete("rmcp-2").await.unwrap();
        assert_eq!(a.open(&sealed, &caller("alice")), Err(SessionRejection::Ended));
    }
}
