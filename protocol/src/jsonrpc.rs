//! The JSON-RPC 2.0 envelope: requests, notifications, responses, ids.
//!
//! Modelled on rust-analyzer's `lsp-server`: params and results stay
//! `serde_json::Value` here and are decoded into a method's own types by
//! whoever handles the method, so a bad `params` is an `invalid params`
//! error for that request rather than an unreadable message.
//!
//! [`Message::parse`] classifies one text frame the way the spec's error
//! table needs: not JSON at all is a parse error with a `null` id; JSON that
//! is not a request, notification or response is an invalid request, with
//! the id when one could be read.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error_codes;

/// A request id: a number or a string. `92` and `"92"` are different ids,
/// and print differently.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id. JSON-RPC allows fractions; this protocol takes integers.
    Number(i64),
    /// A string id.
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

impl From<&str> for RequestId {
    fn from(s: &str) -> Self {
        RequestId::String(s.to_owned())
    }
}

/// The constant `"2.0"` every message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version;

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = String::deserialize(d)?;
        if v == "2.0" {
            Ok(Version)
        } else {
            Err(serde::de::Error::custom(format!("jsonrpc must be \"2.0\", not {v:?}")))
        }
    }
}

impl JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonRpcVersion".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "const": "2.0" })
    }
}

/// A request: it has an id and expects exactly one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Request {
    pub jsonrpc: Version,
    pub id: RequestId,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A notification: no id, no response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub jsonrpc: Version,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A response: exactly one of `result` and `error`. The id is `null` only
/// when the request's id could not be read (a parse error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Response {
    pub jsonrpc: Version,
    pub id: Option<RequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ResponseError>,
}

/// The `error` member of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseError {
    /// One of [`crate::error_codes`].
    pub code: i32,
    /// One sentence for a person, naming the offending field where there is one.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ResponseError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ResponseError { code, message: message.into(), data: None }
    }

    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = Some(serde_json::to_value(data).expect("error data serializes"));
        self
    }
}

impl Response {
    pub fn ok(id: RequestId, result: impl Serialize) -> Response {
        let result = serde_json::to_value(result).expect("results serialize");
        Response { jsonrpc: Version, id: Some(id), result: Some(result), error: None }
    }

    pub fn err(id: Option<RequestId>, error: ResponseError) -> Response {
        Response { jsonrpc: Version, id, result: None, error: Some(error) }
    }
}

impl Notification {
    pub fn new(method: impl Into<String>, params: impl Serialize) -> Notification {
        let params = serde_json::to_value(params).expect("params serialize");
        Notification { jsonrpc: Version, method: method.into(), params: Some(params) }
    }
}

impl Request {
    pub fn new(id: impl Into<RequestId>, method: impl Into<String>, params: impl Serialize) -> Request {
        let params = serde_json::to_value(params).expect("params serialize");
        Request { jsonrpc: Version, id: id.into(), method: method.into(), params: Some(params) }
    }
}

/// Any one message.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

/// Why a text frame is not a message, with the response it deserves.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    /// The id to answer with: `None` (JSON `null`) when none could be read.
    pub id: Option<RequestId>,
    pub error: ResponseError,
}

impl ParseFailure {
    pub fn into_response(self) -> Response {
        Response::err(self.id, self.error)
    }
}

impl Message {
    /// Reads one JSON-RPC message from a text frame.
    ///
    /// Batches (a JSON array) are not part of this protocol and are
    /// answered as invalid requests.
    pub fn parse(text: &str) -> Result<Message, ParseFailure> {
        let value: Value = serde_json::from_str(text).map_err(|e| ParseFailure {
            id: None,
            error: ResponseError::new(error_codes::PARSE_ERROR, format!("parse error: {e}")),
        })?;
        Message::from_value(value)
    }

    /// Classifies an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Message, ParseFailure> {
        let invalid = |id: Option<RequestId>, why: String| ParseFailure {
            id,
            error: ResponseError::new(error_codes::INVALID_REQUEST, format!("invalid request: {why}")),
        };
        let Value::Object(obj) = &value else {
            let what = if value.is_array() { "batches are not supported" } else { "a message must be a JSON object" };
            return Err(invalid(None, what.to_owned()));
        };
        // Read the id first so that every later complaint can carry it.
        let id = match obj.get("id") {
            None => None,
            Some(raw) => match serde_json::from_value::<RequestId>(raw.clone()) {
                Ok(id) => Some(id),
                Err(_) if raw.is_null() => None,
                Err(_) => return Err(invalid(None, "id must be an integer or a string".to_owned())),
            },
        };
        match obj.get("jsonrpc") {
            Some(Value::String(v)) if v == "2.0" => {}
            _ => return Err(invalid(id, "jsonrpc must be \"2.0\"".to_owned())),
        }
        if let Some(params) = obj.get("params") {
            if !(params.is_object() || params.is_array()) {
                return Err(invalid(id, "params must be an object or an array".to_owned()));
            }
        }
        let has_method = obj.contains_key("method");
        let has_result = obj.contains_key("result") || obj.contains_key("error");
        let has_id = obj.contains_key("id");
        let message = if has_method {
            if !matches!(obj.get("method"), Some(Value::String(_))) {
                return Err(invalid(id, "method must be a string".to_owned()));
            }
            if has_id {
                if id.is_none() {
                    return Err(invalid(None, "a request's id must not be null".to_owned()));
                }
                serde_json::from_value(value).map(Message::Request)
            } else {
                serde_json::from_value(value).map(Message::Notification)
            }
        } else if has_result && has_id {
            serde_json::from_value(value).map(Message::Response)
        } else {
            return Err(invalid(id, "a message needs a method, or a result or error with an id".to_owned()));
        };
        message.map_err(|e| invalid(None, e.to_string()))
    }

    /// The message as one line of JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("messages serialize")
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}
impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Message::Notification(n)
    }
}
impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_ids_keep_their_type() {
        assert_eq!(RequestId::from(92).to_string(), "92");
        assert_eq!(RequestId::from("92").to_string(), "\"92\"");
        assert_ne!(RequestId::from(92), RequestId::from("92"));
    }

    #[test]
    fn request_round_trips_exactly() {
        let text = r#"{"jsonrpc":"2.0","id":1,"method":"run","params":{"language":"python"}}"#;
        let msg = Message::parse(text).unwrap();
        assert!(matches!(&msg, Message::Request(r) if r.method == "run" && r.id == RequestId::Number(1)));
        assert_eq!(msg.to_text(), text);
    }

    #[test]
    fn notification_round_trips_exactly() {
        let text = r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"a"}}"#;
        let msg = Message::parse(text).unwrap();
        assert!(matches!(&msg, Message::Notification(_)));
        assert_eq!(msg.to_text(), text);
    }

    #[test]
    fn error_response_round_trips_exactly() {
        let resp = Response::err(None, ResponseError::new(-32700, "parse error: x"));
        let text = serde_json::to_string(&resp).unwrap();
        assert_eq!(text, r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: x"}}"#);
        assert_eq!(Message::parse(&text).unwrap(), Message::Response(resp));
    }

    #[test]
    fn ok_response_serializes_result_only() {
        let text = serde_json::to_string(&Response::ok(7.into(), json!({"a": 1}))).unwrap();
        assert_eq!(text, r#"{"jsonrpc":"2.0","id":7,"result":{"a":1}}"#);
    }

    #[test]
    fn not_json_is_a_parse_error_with_null_id() {
        let f = Message::parse("{nope").unwrap_err();
        assert_eq!(f.error.code, error_codes::PARSE_ERROR);
        assert_eq!(f.id, None);
    }

    #[test]
    fn wrong_version_is_invalid_request_keeping_the_id() {
        let f = Message::parse(r#"{"jsonrpc":"1.0","id":3,"method":"run"}"#).unwrap_err();
        assert_eq!(f.error.code, error_codes::INVALID_REQUEST);
        assert_eq!(f.id, Some(RequestId::Number(3)));
    }

    #[test]
    fn batches_and_scalars_are_invalid_requests() {
        for text in ["[]", "[1]", "3", "\"x\"", "null"] {
            let f = Message::parse(text).unwrap_err();
            assert_eq!(f.error.code, error_codes::INVALID_REQUEST, "{text}");
        }
    }

    #[test]
    fn scalar_params_are_invalid_requests() {
        let f = Message::parse(r#"{"jsonrpc":"2.0","id":1,"method":"run","params":3}"#).unwrap_err();
        assert_eq!(f.error.code, error_codes::INVALID_REQUEST);
        assert_eq!(f.id, Some(RequestId::Number(1)));
    }

    #[test]
    fn fractional_ids_are_invalid() {
        let f = Message::parse(r#"{"jsonrpc":"2.0","id":1.5,"method":"run"}"#).unwrap_err();
        assert_eq!(f.error.code, error_codes::INVALID_REQUEST);
    }

    #[test]
    fn unknown_envelope_fields_are_tolerated() {
        let msg = Message::parse(r#"{"jsonrpc":"2.0","id":1,"method":"x","extra":true}"#).unwrap();
        assert!(matches!(msg, Message::Request(_)));
    }
}
