//! Reading a request: path ids, links, query values and JSON bodies, each
//! checked against the contract's rules and turned into a 400 when broken.

use crate::{ApiError, Id, Request};
use serde_json::{Map, Value};

/// The contract's body size limit. The host enforces its own (configurable)
/// limit before a request reaches a function; this one keeps the answer the
/// same on hosts that have none.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether `text` is a positive integer in plain decimal: digits only, no
/// sign, no leading zero. Ids and limits are both written so.
fn plain_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0')
}

/// Parses an id: a positive int64 in plain decimal.
pub fn parse_id(text: &str) -> Option<Id> {
    plain_decimal(text).then(|| text.parse().ok()).flatten()
}

/// The link of a participant: `/participant/{id}`.
pub fn link(id: Id) -> String {
    format!("/participant/{id}")
}

/// Parses a link back to its id.
pub fn parse_link(text: &str) -> Result<Id, ApiError> {
    text.strip_prefix("/participant/")
        .and_then(parse_id)
        .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a participant link (/participant/{{id}})")))
}

/// Matches the request path against `/participant/{id}` followed by `tail`
/// (for example `"/friends"`, or `""` for none) and returns the id. A path of
/// another shape is a 404; an id that is not one is a 400.
pub fn participant_id(req: &Request, tail: &str) -> Result<Id, ApiError> {
    let path = req.path();
    let raw = path
        .strip_prefix("/participant/")
        .and_then(|rest| rest.strip_suffix(tail))
        .filter(|raw| !raw.is_empty() && !raw.contains('/'))
        .ok_or_else(|| ApiError::no_route(path))?;
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    parse_id(&decoded).ok_or_else(|| ApiError::bad_request(format!("{decoded:?} is not an id (a positive integer)")))
}

/// The first value of a query parameter, decoded (`+` and `%20` are spaces).
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query().as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// The `limit` query parameter: `default` when absent, else an integer in
/// `1..=max`, in plain decimal (`+5` and `007` are not).
pub fn limit(req: &Request, default: u32, max: u32) -> Result<u32, ApiError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(text) => plain_decimal(&text)
            .then(|| text.parse::<u32>().ok())
            .flatten()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be an integer from 1 to {max}, not {text:?}"))),
    }
}

/// The `before` query parameter: the cursor of the page to read, as a
/// previous page's `next` link gave it. Checked by the backend.
pub fn before(req: &Request) -> Option<String> {
    query_param(req, "before")
}

/// The `Link` header value (RFC 8288) of the page after this one: the
/// request's own path, its `limit`, and the cursor `next`.
pub fn next_link(req: &Request, limit: u32, next: &str) -> String {
    let cursor: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("<{}?limit={limit}&before={cursor}>; rel=\"next\"", req.path())
}

/// A JSON object body, read whatever the Content-Type says.
pub struct Body(Map<String, Value>);

impl Body {
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        let bytes = req.body();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large(MAX_BODY_BYTES));
        }
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(fields)) => Ok(Body(fields)),
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(error) => Err(ApiError::bad_request(format!("malformed JSON body: {error}"))),
        }
    }

    /// A string field that may be left out. Present means a string: `null`
    /// or any other type is a 400.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ApiError::bad_request(format!("{name:?} must be a string, not {}", type_name(other)))),
        }
    }

    /// A string field that must be present and not blank.
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        match self.optional_str(name)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            Some(_) => Err(ApiError::bad_request(format!("{name:?} must not be empty"))),
            None => Err(ApiError::bad_request(format!("{name:?} is required"))),
        }
    }

    /// The optional `from` link: when given it must name `path_id`.
    pub fn from_matches(&self, path_id: Id) -> Result<(), ApiError> {
        match self.optional_str("from")? {
            Some(from) if parse_link(from)? != path_id => {
                Err(ApiError::bad_request(format!("\"from\" is {from:?} but the path is {}", link(path_id))))
            }
            _ => Ok(()),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;

    fn request(method: Method, uri: &str, body: &str) -> Request {
        Request::builder().method(method).uri(uri).body(body.to_string()).build()
    }

    proptest::proptest! {
        /// Any text: an id exactly when it is a positive int64 in plain
        /// decimal, and a link exactly when it is `/participant/` and one.
        #[test]
        fn ids_and_links_parse_exactly_the_plain_positive_decimals(text in "\\PC*|[0-9+-]{0,25}") {
            let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
            let expected = if plain { text.parse::<i64>().ok() } else { None };
            proptest::prop_assert_eq!(parse_id(&text), expected);
            let linked = parse_link(&format!("/participant/{text}"));
            proptest::prop_assert_eq!(linked.as_ref().ok().copied(), expected);
            if let Err(error) = linked {
                proptest::prop_assert_eq!(error.status, 400);
            }
        }

        /// Any query: the limit in range, or the contract's 400.
        #[test]
        fn a_limit_is_in_range_or_a_400(query in "\\PC{0,30}|[+0-]?[0-9]{1,5}") {
            let uri = format!("/x?limit={}", form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>());
            match limit(&request(Method::Get, &uri, ""), 100, 1000) {
                Ok(n) => proptest::prop_assert!((1..=1000).contains(&n) && query == n.to_string()),
                Err(error) => proptest::prop_assert_eq!(error.status, 400),
            }
        }

        /// Any body: a JSON object, or the contract's 400.
        #[test]
        fn a_body_is_an_object_or_a_400(body in "\\PC*|\\{\"[a-z]{1,5}\": ?(null|[0-9]{1,3}|\"\\PC*\"|\\[\\]|\\{\\})\\}") {
            match Body::parse(&request(Method::Post, "/x", &body)) {
                Ok(fields) => {
                    for field in ["name", "subject", "story", "from", "to", "occurred"] {
                        if let Err(error) = fields.required_str(field) {
                            proptest::prop_assert_eq!(error.status, 400);
                        }
                    }
                }
                Err(error) => proptest::prop_assert_eq!(error.status, 400),
            }
        }
    }

    #[test]
    fn ids_are_plain_positive_decimals() {
        assert_eq!(parse_id("1"), Some(1));
        assert_eq!(parse_id("9223372036854775807"), Some(i64::MAX));
        for bad in ["", "0", "-1", "+1", "01", "1.0", "1e3", "abc", "9223372036854775808", " 1"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_round_trip_and_reject_other_shapes() {
        assert_eq!(parse_link(&link(42)), Ok(42));
        for bad in ["/participant/", "/participant/x", "participant/1", "/participants/1", "/participant/1/"] {
            assert_eq!(parse_link(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn path_ids_are_decoded_then_checked() {
        let get = |uri| participant_id(&request(Method::Get, uri, ""), "/friends");
        assert_eq!(get("/participant/7/friends"), Ok(7));
        assert_eq!(get("/participant/%37/friends"), Ok(7));
        assert_eq!(get("/participant/x/friends").unwrap_err().status, 400);
        assert_eq!(get("/participant/0/friends").unwrap_err().status, 400);
        assert_eq!(get("/participant/7/inbound").unwrap_err().status, 404);
        assert_eq!(get("/participant/7/8/friends").unwrap_err().status, 404);
    }

    #[test]
    fn limits_are_bounded() {
        let limit_of = |uri| limit(&request(Method::Get, uri, ""), 100, 1000);
        assert_eq!(limit_of("/x"), Ok(100));
        assert_eq!(limit_of("/x?limit=1000"), Ok(1000));
        let bad_limits = ["/x?limit=0", "/x?limit=1001", "/x?limit=", "/x?limit=ten", "/x?limit=-1", "/x?limit=%2B5"];
        for bad in bad_limits.into_iter().chain(["/x?limit=007", "/x?limit=5.0", "/x?limit=99999999999"]) {
            assert_eq!(limit_of(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_strict_about_types() {
        let body = |text: &str| Body::parse(&request(Method::Post, "/x", text));
        assert_eq!(body("{").err().unwrap().status, 400);
        assert_eq!(body("[1]").err().unwrap().status, 400);
        let fields = body(r#"{"name": "joe", "n": null, "blank": "  ", "from": "/participant/2"}"#).unwrap();
        assert_eq!(fields.required_str("name"), Ok("joe"));
        assert_eq!(fields.required_str("n").unwrap_err().status, 400);
        assert_eq!(fields.required_str("blank").unwrap_err().status, 400);
        assert_eq!(fields.required_str("missing").unwrap_err().status, 400);
        assert_eq!(fields.optional_str("missing"), Ok(None));
        assert_eq!(fields.from_matches(2), Ok(()));
        assert_eq!(fields.from_matches(3).unwrap_err().status, 400);
    }
}
