//! The participant function: `POST /participant` creates one,
//! `GET /participant/{id}` reads one. World: `participant-function`.

use newsfeed_guest::request::{participant_id, Body};
use newsfeed_guest::{json, respond, ApiError, Method, Participants, Reply, Request, Response, Storage};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, backend: &(impl Storage + Participants)) -> Response {
    respond(if req.path() == "/participant" {
        match req.method() {
            Method::Post => create(req, backend),
            _ => Err(ApiError::method_not_allowed("POST")),
        }
    } else {
        match req.method() {
            Method::Get => get(req, backend),
            _ => Err(ApiError::method_not_allowed("GET")),
        }
    })
}

fn create(req: &Request, backend: &impl Participants) -> Reply {
    let body = Body::parse(req)?;
    let participant = backend.create(body.required_str("name")?)?;
    Ok(json::participant(&participant).into())
}

fn get(req: &Request, backend: &impl Storage) -> Reply {
    let id = participant_id(req, "")?;
    Ok(json::participant(&backend.get_participant(id)?).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryBackend;
    use serde_json::{json, Value};

    fn call(backend: &MemoryBackend, method: Method, uri: &str, body: &str) -> (u16, Value) {
        let req = Request::builder().method(method).uri(uri).body(body.to_string()).build();
        let res = handle(&req, backend);
        (*res.status(), serde_json::from_slice(res.body()).unwrap())
    }

    #[test]
    fn creates_then_reads_a_participant() {
        let backend = MemoryBackend::default();
        let created = call(&backend, Method::Post, "/participant", r#"{"name": "joe"}"#);
        assert_eq!(created, (200, json!({"id": 1, "name": "joe", "link": "/participant/1"})));
        assert_eq!(call(&backend, Method::Get, "/participant/1", ""), created);
    }

    #[test]
    fn refuses_bad_requests() {
        let backend = MemoryBackend::default();
        assert_eq!(call(&backend, Method::Post, "/participant", r#"{"name": ""}"#).0, 400);
        assert_eq!(call(&backend, Method::Post, "/participant", r#"{"name": 5}"#).0, 400);
        assert_eq!(call(&backend, Method::Post, "/participant", "not json").0, 400);
        assert_eq!(call(&backend, Method::Get, "/participant/abc", "").0, 400);
        assert_eq!(call(&backend, Method::Get, "/participant/9", "").0, 404);
        assert_eq!(call(&backend, Method::Delete, "/participant/9", "").0, 405);
        assert_eq!(call(&backend, Method::Get, "/participant", "").0, 405);
        assert!(matches!(backend.get_participant(1), Err(newsfeed_guest::BackendError::NotFound(_))));
    }
}
