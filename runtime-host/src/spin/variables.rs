//! Spin's variables: application variables (`[variables]` in the manifest),
//! their values from the environment as Spin's environment provider reads
//! them (`SPIN_VARIABLE_DB_URL` for `db_url`), `{{ name }}` templates in a
//! component's `variables` and `allowed_outbound_hosts`, and the
//! `fermyon:spin/variables@2.0.0` interface a component reads its own
//! variables through.
//!
//! As in Spin: a required variable with no value is an error at start; a
//! component may read only the variables its manifest entry defines.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

wasmtime::component::bindgen!({
    path: "runtime-host/wit/spin-variables.wit",
    world: "host",
    imports: { default: async | trappable },
});

use fermyon::spin::variables::{self, Error};

/// An application variable, as declared in `[variables]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AppVariable {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Kept out of logs; the value is served like any other.
    #[serde(default)]
    pub secret: bool,
}

/// The application variables' values, resolved once at start.
#[derive(Debug, Clone, Default)]
pub struct Values(BTreeMap<String, String>);

impl Values {
    /// Each declared variable's value: `SPIN_VARIABLE_<NAME>` from `env`,
    /// else its default. A required one with neither is an error.
    pub fn resolve(declared: &BTreeMap<String, AppVariable>, env: impl Fn(&str) -> Option<String>) -> Result<Values> {
        let mut values = BTreeMap::new();
        for (name, variable) in declared {
            check_name(name).map_err(|error| anyhow::anyhow!("application variable: {error}"))?;
            let key = format!("SPIN_VARIABLE_{}", name.to_uppercase());
            match env(&key).or_else(|| variable.default.clone()) {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None if variable.required => {
                    bail!("the application variable {name} is required but has no value: set {key}")
                }
                None => {}
            }
        }
        Ok(Values(values))
    }

    /// `template` with every `{{ name }}` replaced by that application
    /// variable's value.
    pub fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").with_context(|| format!("unclosed {{{{ in {template:?}"))?;
            let name = after[..end].trim();
            let value = self.0.get(name).with_context(|| format!("{template:?} names {name}, which has no value"))?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A component's variables (`name = template`), expanded.
    pub fn component(&self, templates: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
        templates
            .iter()
            .map(|(name, template)| {
                check_name(name).map_err(|error| anyhow::anyhow!("component variable: {error}"))?;
                Ok((name.clone(), self.expand(template).with_context(|| format!("variable {name}"))?))
            })
            .collect()
    }
}

/// Spin's rule for a variable name: lower-case ASCII letters, digits and
/// underscores, starting with a letter.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match well_formed {
        true => Ok(()),
        false => Err(format!("{name:?} is not a variable name (lower-case letters, digits, _)")),
    }
}

/// What one instance may read: its component's variables, resolved.
#[derive(Clone, Default)]
pub struct SpinVariablesCtx {
    pub values: Arc<BTreeMap<String, String>>,
}

pub struct SpinVariables;

impl HasData for SpinVariables {
    type Data<'a> = &'a mut SpinVariablesCtx;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut SpinVariablesCtx,
) -> wasmtime::Result<()> {
    variables::add_to_linker::<T, SpinVariables>(linker, get)
}

impl variables::Host for &mut SpinVariablesCtx {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if let Err(error) = check_name(&name) {
            return Ok(Err(Error::InvalidName(error)));
        }
        Ok(self.values.get(&name).cloned().ok_or(Error::Undefined(format!("no variable for {name:?}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, AppVariable> {
        let required = AppVariable { required: true, ..AppVariable::default() };
        let defaulted = AppVariable { default: Some("5432".into()), ..AppVariable::default() };
        BTreeMap::from([("db_url".into(), required), ("db_port".into(), defaulted)])
    }

    #[test]
    fn values_come_from_the_environment_else_the_default_and_required_ones_must_have_one() {
        let env = |key: &str| (key == "SPIN_VARIABLE_DB_URL").then(|| "postgres://db".to_string());
        let values = Values::resolve(&declared(), env).unwrap();
        assert_eq!(values.expand("{{ db_url }}:{{db_port}}/x").unwrap(), "postgres://db:5432/x");
        let missing = Values::resolve(&declared(), |_| None).unwrap_err().to_string();
        assert!(missing.contains("db_url") && missing.contains("SPIN_VARIABLE_DB_URL"), "{missing}");
        assert!(values.expand("{{ nobody }}").is_err());
        assert!(values.expand("{{ db_url").is_err());
    }

    #[tokio::test]
    async fn a_component_reads_only_its_own_variables() {
        let values = Values::resolve(&declared(), |_| Some("v".into())).unwrap();
        let templates = BTreeMap::from([("url".to_string(), "{{ db_url }}".to_string())]);
        let mut ctx = SpinVariablesCtx { values: Arc::new(values.component(&templates).unwrap()) };
        let mut view = &mut ctx;
        assert!(matches!(variables::Host::get(&mut view, "url".into()).await.unwrap(), Ok(v) if v == "v"));
        assert!(matches!(variables::Host::get(&mut view, "db_url".into()).await.unwrap(), Err(Error::Undefined(_))));
        assert!(matches!(variables::Host::get(&mut view, "Bad".into()).await.unwrap(), Err(Error::InvalidName(_))));
    }
}
