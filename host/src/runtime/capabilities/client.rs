//! `client`: input from the connected client (elicitation, sampling,
//! roots), through the call's peer.

use crate::runtime::bindings::cnpg::mcp::client::{
    self, ClientError, ElicitAction, InputRequest as WitRequest, InputResponse as WitResponse, KeyedRequest,
    KeyedResponse,
};
use crate::runtime::state::{CallState, ClientFailure, ElicitOutcome, InputKind, InputRequest, InputResponse};

/// Most inputs one call may ask for at once.
const MAX_REQUESTS: usize = 16;

fn failure(error: ClientFailure) -> ClientError {
    match error {
        ClientFailure::Unsupported(m) => ClientError::Unsupported(m),
        ClientFailure::Failed(m) => ClientError::Failed(m),
        ClientFailure::Timeout(m) => ClientError::Timeout(m),
    }
}

fn parse(text: &str, what: &str) -> Result<serde_json::Value, ClientFailure> {
    serde_json::from_str(text).map_err(|e| ClientFailure::Failed(format!("{what} is not valid JSON: {e}")))
}

fn to_host(request: &KeyedRequest) -> Result<InputRequest, ClientFailure> {
    let kind = match &request.request {
        WitRequest::Elicit(e) => InputKind::Elicit {
            message: e.message.clone(),
            schema: parse(&e.requested_schema, "requested-schema")?,
        },
        WitRequest::Sample(params) => InputKind::Sample(parse(params, "the sampling request")?),
        WitRequest::ListRoots => InputKind::ListRoots,
    };
    Ok(InputRequest {
        key: request.key.clone(),
        kind,
    })
}

fn to_wit(response: InputResponse) -> WitResponse {
    match response {
        InputResponse::Elicit(ElicitOutcome::Accept(content)) => {
            WitResponse::Elicit(ElicitAction::Accept(content.to_string()))
        }
        InputResponse::Elicit(ElicitOutcome::Decline) => WitResponse::Elicit(ElicitAction::Decline),
        InputResponse::Elicit(ElicitOutcome::Cancel) => WitResponse::Elicit(ElicitAction::Cancel),
        InputResponse::Sample(value) => WitResponse::Sample(value.to_string()),
        InputResponse::Roots(value) => WitResponse::Roots(value.to_string()),
        InputResponse::Failed(error) => WitResponse::Failed(failure(error)),
    }
}

impl client::Host for CallState {
    async fn request_input(&mut self, requests: Vec<KeyedRequest>) -> wasmtime::Result<Vec<KeyedResponse>> {
        if requests.len() > MAX_REQUESTS {
            wasmtime::bail!("request-input: at most {MAX_REQUESTS} requests per call");
        }
        let mut keys = std::collections::HashSet::new();
        if let Some(duplicate) = requests.iter().find(|r| !keys.insert(r.key.as_str())) {
            wasmtime::bail!("request-input: key `{}` is used twice", duplicate.key);
        }
        // Malformed requests are answered locally; the rest go to the peer.
        let mut answers: Vec<Option<InputResponse>> = Vec::with_capacity(requests.len());
        let mut outgoing = Vec::new();
        for request in &requests {
            match to_host(request) {
                Ok(host) => {
                    outgoing.push(host);
                    answers.push(None);
                }
                Err(error) => answers.push(Some(InputResponse::Failed(error))),
            }
        }
        let mut received = if outgoing.is_empty() {
            Vec::new().into_iter()
        } else {
            let count = outgoing.len();
            let got = self
                .scope
                .peer
                .request_input(outgoing)
                .await
                .map_err(wasmtime::Error::new)?;
            if got.len() != count {
                wasmtime::bail!("the client peer answered {} of {count} input requests", got.len());
            }
            got.into_iter()
        };
        Ok(requests
            .into_iter()
            .zip(answers)
            .map(|(request, local)| {
                let response =
                    local
                        .or_else(|| received.next())
                        .unwrap_or(InputResponse::Failed(ClientFailure::Failed(
                            "no answer was received".into(),
                        )));
                KeyedResponse {
                    key: request.key,
                    response: to_wit(response),
                }
            })
            .collect())
    }

    async fn capabilities(&mut self) -> wasmtime::Result<String> {
        Ok(self.scope.peer.client_capabilities().to_string())
    }
}
