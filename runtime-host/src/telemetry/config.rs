//! Which signals to export, and where, from the standard OpenTelemetry
//! environment variables (the SDK specification's, as Spin reads them):
//!
//! - `OTEL_SDK_DISABLED=true` turns everything off;
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`, used as
//!   given, else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` or
//!   `/v1/metrics` appended; a signal with neither is not exported;
//! - `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` = `none` turns one off;
//! - `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL`: `http/protobuf`, the
//!   default; any other is refused at start, rather than silently ignored.
//!
//! - `OTEL_TRACES_SAMPLER[_ARG]`: the specification's `always_on`,
//!   `always_off`, `traceidratio`, and their `parentbased_` forms (the
//!   default is `parentbased_always_on`); any other is refused at start.
//!   The host decides with it once, when a request arrives, before any span
//!   is made ([`super::server`]).
//!
//! The SDK itself reads the rest: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_EXPORTER_OTLP_[..._]HEADERS` and
//! `..._TIMEOUT`.

use opentelemetry_sdk::trace::Sampler;

/// What to export.
#[derive(Debug, Default, PartialEq)]
pub struct Settings {
    /// Where spans go, if anywhere.
    pub traces: Option<String>,
    /// Where metrics go, if anywhere.
    pub metrics: Option<String>,
    /// Whether the environment names the service itself.
    pub names_service: bool,
    /// Which traces are sampled.
    pub sampling: Sampling,
}

/// `OTEL_TRACES_SAMPLER` and its argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// A request that continues a caller's trace follows the caller's
    /// decision (the `parentbased_` samplers).
    pub follows_caller: bool,
    /// The share of the other traces sampled, from 0 to 1.
    pub ratio: f64,
}

impl Default for Sampling {
    /// The specification's default, `parentbased_always_on`.
    fn default() -> Self {
        Sampling { follows_caller: true, ratio: 1.0 }
    }
}

impl Sampling {
    /// The SDK's sampler for this choice.
    pub fn sampler(&self) -> Sampler {
        let root = match self.ratio {
            ratio if ratio >= 1.0 => Sampler::AlwaysOn,
            ratio if ratio <= 0.0 => Sampler::AlwaysOff,
            ratio => Sampler::TraceIdRatioBased(ratio),
        };
        match self.follows_caller {
            true => Sampler::ParentBased(Box::new(root)),
            false => root,
        }
    }

    fn from_env(sampler: Option<String>, argument: Option<String>) -> anyhow::Result<Sampling> {
        let Some(sampler) = sampler else { return Ok(Sampling::default()) };
        let (follows_caller, root) = match sampler.strip_prefix("parentbased_") {
            Some(root) => (true, root),
            None => (false, sampler.as_str()),
        };
        let ratio = match root {
            "always_on" => 1.0,
            "always_off" => 0.0,
            "traceidratio" => match argument {
                None => 1.0,
                Some(argument) => {
                    argument.parse::<f64>().ok().filter(|ratio| (0.0..=1.0).contains(ratio)).ok_or_else(|| {
                        anyhow::anyhow!("OTEL_TRACES_SAMPLER_ARG is {argument:?}: a ratio from 0 to 1 was expected")
                    })?
                }
            },
            _ => anyhow::bail!(
                "OTEL_TRACES_SAMPLER is {sampler:?}: this host samples with always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
            ),
        };
        Ok(Sampling { follows_caller, ratio })
    }
}

/// The one protocol this build exports with.
const HTTP_PROTOBUF: &str = "http/protobuf";

impl Settings {
    /// The settings `var` (the environment, in production) asks for.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let set = |name: &str| var(name).map(|value| value.trim().to_string()).filter(|value| !value.is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Ok(Settings::default());
        }
        let endpoint = |signal: &str, path: &str| -> anyhow::Result<Option<String>> {
            let upper = signal.to_ascii_uppercase();
            if set(&format!("OTEL_{upper}_EXPORTER")).is_some_and(|value| value.eq_ignore_ascii_case("none")) {
                return Ok(None);
            }
            let endpoint = match set(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")) {
                Some(exact) => exact,
                None => match set("OTEL_EXPORTER_OTLP_ENDPOINT") {
                    Some(base) => format!("{}/{path}", base.trim_end_matches('/')),
                    None => return Ok(None),
                },
            };
            let protocol_variable = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
            let protocol = set(&protocol_variable).or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"));
            if let Some(protocol) = protocol.filter(|protocol| protocol != HTTP_PROTOBUF) {
                anyhow::bail!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL (or {protocol_variable}) is {protocol:?}: this host exports {signal} \
                     over {HTTP_PROTOBUF} only"
                );
            }
            Ok(Some(endpoint))
        };
        let names_service = set("OTEL_SERVICE_NAME").is_some()
            || set("OTEL_RESOURCE_ATTRIBUTES")
                .is_some_and(|attributes| attributes.split(',').any(|pair| pair.trim().starts_with("service.name=")));
        Ok(Settings {
            traces: endpoint("traces", "v1/traces")?,
            metrics: endpoint("metrics", "v1/metrics")?,
            names_service,
            sampling: Sampling::from_env(set("OTEL_TRACES_SAMPLER"), set("OTEL_TRACES_SAMPLER_ARG"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        Settings::from_env(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
    }

    #[test]
    fn nothing_is_exported_unless_an_endpoint_is_configured() {
        assert_eq!(settings(&[]).unwrap(), Settings::default());
        assert_eq!(settings(&[("OTEL_SERVICE_NAME", "feed")]).unwrap().traces, None);
    }

    #[test]
    fn the_base_endpoint_gets_each_signals_path_and_a_signals_own_is_used_as_given() {
        let both = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]).unwrap();
        assert_eq!(both.traces.as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
        assert_eq!(both.metrics.as_deref(), Some("http://127.0.0.1:4318/v1/metrics"));
        let own = settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/t")]).unwrap();
        assert_eq!((own.traces.as_deref(), own.metrics), (Some("http://127.0.0.1:9/t"), None));
    }

    #[test]
    fn sdk_disabled_and_exporter_none_turn_export_off() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert_eq!(settings(&[base, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap(), Settings::default());
        let no_traces = settings(&[base, ("OTEL_TRACES_EXPORTER", "none")]).unwrap();
        assert_eq!(no_traces.traces, None);
        assert!(no_traces.metrics.is_some());
    }

    #[test]
    fn a_protocol_other_than_http_protobuf_is_refused() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        assert!(settings(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_ok());
        let refused = settings(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(refused.to_string().contains("http/protobuf"), "{refused}");
    }

    #[test]
    fn the_sampler_is_the_specifications_and_anything_else_is_refused() {
        let sampling = |vars: &[(&str, &str)]| settings(vars).map(|settings| settings.sampling);
        assert_eq!(sampling(&[]).unwrap(), Sampling { follows_caller: true, ratio: 1.0 });
        assert_eq!(
            sampling(&[("OTEL_TRACES_SAMPLER", "always_off")]).unwrap(),
            Sampling { follows_caller: false, ratio: 0.0 }
        );
        let ratio = [("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.01")];
        assert_eq!(sampling(&ratio).unwrap(), Sampling { follows_caller: true, ratio: 0.01 });
        assert!(sampling(&[("OTEL_TRACES_SAMPLER", "xray")]).is_err());
        assert!(sampling(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "2")]).is_err());
    }

    #[test]
    fn the_service_name_is_the_environments_when_it_gives_one() {
        assert!(settings(&[("OTEL_RESOURCE_ATTRIBUTES", "a=b, service.name=feed")]).unwrap().names_service);
        assert!(!settings(&[("OTEL_RESOURCE_ATTRIBUTES", "a=b")]).unwrap().names_service);
    }
}
