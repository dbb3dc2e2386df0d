//! Checks real answers against `openapi.yaml`: the path and method must be
//! documented, the status must be one the operation lists, and the body must
//! match that response's schema.

use serde_json::{json, Value};
use std::sync::OnceLock;

pub struct Spec {
    doc: Value,
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(super::repo_root().join("openapi.yaml")).unwrap();
        Spec { doc: serde_norway::from_str(&text).expect("openapi.yaml is valid YAML") }
    })
}

impl Spec {
    /// The documented path template that `path` (query left off) matches.
    fn template(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object()?.keys().map(String::as_str).find(|template| {
            let pattern: Vec<&str> = template.split('/').collect();
            pattern.len() == parts.len()
                && pattern.iter().zip(&parts).all(|(p, part)| p == part || (p.starts_with('{') && !part.is_empty()))
        })
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(pointer) => self.doc.pointer(pointer.trim_start_matches('#')).expect("a $ref that resolves"),
            None => value,
        }
    }

    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let Some(template) = self.template(path) else {
            // Undocumented paths may only answer 404.
            assert_eq!(status, 404, "{method} {path} is not in openapi.yaml but answered {status}");
            return self.check_schema(&json!({"$ref": "#/components/schemas/Error"}), body, path);
        };
        let operation = &self.doc["paths"][template][method.to_lowercase()];
        if operation.is_null() {
            assert_eq!(status, 405, "{method} {template} is not documented but answered {status}");
            return self.check_schema(&json!({"$ref": "#/components/schemas/Error"}), body, path);
        }
        let response = &operation["responses"][status.to_string()];
        assert!(!response.is_null(), "{method} {template} answered {status}, which openapi.yaml does not list");
        let schema = &self.resolve(response)["content"]["application/json"]["schema"];
        self.check_schema(schema, body, path);
    }

    fn check_schema(&self, schema: &Value, body: &Value, path: &str) {
        // The schema sits in a document holding the spec's components, so
        // that its `$ref`s resolve.
        let mut root = json!({ "components": self.doc["components"].clone() });
        root.as_object_mut().unwrap().extend(schema.as_object().unwrap().clone());
        let validator = jsonschema::draft202012::new(&root).expect("openapi.yaml schemas compile");
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "answer of {path} does not match openapi.yaml: {errors:?}\n{body}");
    }
}
