//! What one hosted application gets, worked out from the request's typed values and the
//! platform settings: names, labels, resource totals, exposed ports. Pure; the Kubernetes
//! objects are built from it (`objects.rs`), and an undo rebuilds the same plan to find them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::names::{KEY_PREFIX, encode_label, is_dns1123_label, is_label_value};
use super::platform::{KubernetesPlatform, SubjectKind};
use crate::domain::{Fqdn, Hostname, Protocol, RequestId, ServerSpec, ServicePort, Text};

/// Names of the objects inside an application's namespace (fixed: one set per namespace).
pub const QUOTA: &str = "kolokasi-quota";
pub const LIMITS: &str = "kolokasi-limits";
pub const DEFAULT_DENY: &str = "kolokasi-default-deny";
pub const ALLOW_SERVICES: &str = "kolokasi-allow-services";
pub const INGRESS: &str = "kolokasi-ingress";
pub const TLS_SECRET: &str = "kolokasi-tls";
pub const DEPLOY_BINDING: &str = "kolokasi-deploy";

/// The label that marks an object as this request's.
pub fn request_label() -> String {
    format!("{KEY_PREFIX}/request")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPlan {
    pub request: RequestId,
    /// The namespace: `klk-2026-00001-app-pajak` (DNS-1123 label).
    pub namespace: String,
    pub domain: Fqdn,
    /// The unit's Service the Ingress sends traffic to (the application's name).
    pub backend: Hostname,
    /// The first declared TCP port: the backend Service's port.
    pub backend_port: u16,
    pub unit: Text,
    /// Totals over the request's application specs.
    pub cpu_cores: u64,
    pub ram_gb: u64,
    pub storage_gb: u64,
    pub services: Vec<ServicePort>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub ingress_class: String,
    pub issuer: (String, String),
    pub deploy_kind: SubjectKind,
    pub deploy_name: String,
    pub cluster_role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hosting plan: {0}")]
pub struct PlanError(pub String);

impl AppPlan {
    /// From a step's parameters: `domain`, `app` (the first application's name), `unit` (the
    /// unit's name) and `servers` (the application specs, as the request holds them). Every
    /// value is parsed again into its type, so text from the form never reaches a name or a
    /// label unchecked.
    pub fn from_params(request: &RequestId, params: &Value, platform: &KubernetesPlatform) -> Result<Self, PlanError> {
        let err = |m: String| PlanError(m);
        let text = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("parameter {k} is missing or not text")))
        };
        let domain = Fqdn::parse(text("domain")?).map_err(|e| err(format!("domain: {e}")))?;
        let app = Hostname::parse(text("app")?).map_err(|e| err(format!("app: {e}")))?;
        let unit = Text::parse(text("unit")?).map_err(|e| err(format!("unit: {e}")))?;
        let servers: Vec<ServerSpec> =
            serde_json::from_value(params.get("servers").cloned().unwrap_or(Value::Null)).map_err(|e| err(format!("servers: {e}")))?;
        Self::new(request, domain, app, unit, &servers, platform)
    }

    pub fn new(
        request: &RequestId,
        domain: Fqdn,
        backend: Hostname,
        unit: Text,
        servers: &[ServerSpec],
        platform: &KubernetesPlatform,
    ) -> Result<Self, PlanError> {
        let err = |m: String| PlanError(m);
        if servers.is_empty() {
            return Err(err("an application needs at least one resource specification".into()));
        }
        let request_lower = request.as_str().to_ascii_lowercase();
        // The request number keeps namespaces unique; the application's name keeps them readable.
        let room = 63 - request_lower.len() - 1;
        let app_part = backend.as_str()[..backend.as_str().len().min(room)].trim_end_matches('-');
        let namespace = format!("{request_lower}-{app_part}");
        if !is_dns1123_label(&namespace) {
            return Err(err(format!("namespace {namespace:?} is not a DNS-1123 label")));
        }
        let mut services: Vec<ServicePort> = Vec::new();
        for s in servers.iter().flat_map(|s| &s.services) {
            if !services.contains(s) {
                services.push(*s);
            }
        }
        let backend_port = services
            .iter()
            .find(|s| s.protocol == Protocol::Tcp)
            .map(|s| s.port)
            .ok_or_else(|| err("an application needs a tcp service for its ingress (services: [tcp/443], say)".into()))?;
        let unit_label = encode_label(unit.as_str(), 63);
        let labels = BTreeMap::from([
            ("app.kubernetes.io/managed-by".to_string(), "kolokasi".to_string()),
            (request_label(), request.as_str().to_string()),
            (format!("{KEY_PREFIX}/unit"), unit_label.clone()),
        ]);
        debug_assert!(labels.values().all(|v| is_label_value(v)));
        let annotations = BTreeMap::from([
            (format!("{KEY_PREFIX}/unit-name"), unit.as_str().to_string()),
            (format!("{KEY_PREFIX}/domain"), domain.as_str().to_string()),
        ]);
        Ok(Self {
            request: request.clone(),
            deploy_name: platform.deploy_name(&unit_label, &namespace, &request_lower),
            namespace,
            domain,
            backend,
            backend_port,
            unit,
            cpu_cores: servers.iter().map(|s| u64::from(s.cpu_cores)).sum(),
            ram_gb: servers.iter().map(|s| u64::from(s.ram_gb)).sum(),
            storage_gb: servers.iter().map(|s| u64::from(s.storage_gb)).sum(),
            services,
            labels,
            annotations,
            ingress_class: platform.ingress_class.clone(),
            issuer: (platform.tls_issuer.annotation.clone(), platform.tls_issuer.name.clone()),
            deploy_kind: platform.deploy.kind,
            cluster_role: platform.deploy.cluster_role.clone(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::RequestForm;

    pub(crate) fn platform() -> KubernetesPlatform {
        serde_yaml_ng::from_str(
            "ingress: { ipv4: 198.51.100.135, ipv6: \"2001:db8:1ab::80\" }\ningress_class: nginx\ntls_issuer: { name: letsencrypt-prod }\ndeploy: { name: \"opd:{unit}\" }\n",
        )
        .unwrap()
    }

    pub(crate) fn sample() -> AppPlan {
        let form = RequestForm::from_yaml(include_str!("../../deploy/examples/hosting-request.yaml")).unwrap();
        let params = serde_json::json!({
            "domain": form.domain, "app": form.servers[0].name, "unit": form.unit.name, "servers": form.servers,
        });
        AppPlan::from_params(&RequestId::new(2026, 1), &params, &platform()).unwrap()
    }

    #[test]
    fn the_sample_request_plans() {
        platform().validate().unwrap();
        let p = sample();
        assert_eq!(p.namespace, "klk-2026-00001-app-pajak");
        assert_eq!((p.cpu_cores, p.ram_gb, p.storage_gb, p.backend_port), (4, 8, 50, 443));
        assert_eq!(p.labels[&request_label()], "KLK-2026-00001");
        assert_eq!(p.deploy_name, "opd:badan-pendapatan-daerah-provinsi-kalimantan-timur");
    }

    #[test]
    fn hostile_parameters_are_refused() {
        let good = serde_json::json!({"domain": "a.kaltimprov.go.id", "app": "web", "unit": "Dinas", "servers": sample_servers()});
        for (k, v) in [
            ("domain", "a.kaltimprov.go.id; rm -rf /"),
            ("domain", "a.kaltimprov.go.id\nspec: {}"),
            ("app", "web/../../api"),
            ("app", "web\"},\"x\":{"),
            ("app", "$(reboot)"),
            ("unit", "a\u{0}b"),
        ] {
            let mut p = good.clone();
            p[k] = serde_json::json!(v);
            assert!(AppPlan::from_params(&RequestId::new(2026, 2), &p, &platform()).is_err(), "{k}={v:?} accepted");
        }
        AppPlan::from_params(&RequestId::new(2026, 2), &good, &platform()).unwrap();
    }

    fn sample_servers() -> Value {
        let form = RequestForm::from_yaml(include_str!("../../deploy/examples/hosting-request.yaml")).unwrap();
        serde_json::json!(form.servers)
    }

    #[test]
    fn long_names_still_make_a_label() {
        let mut p = serde_json::json!({"domain": "a.kaltimprov.go.id", "app": "a".repeat(63), "unit": "U", "servers": sample_servers()});
        let plan = AppPlan::from_params(&RequestId::new(2026, 123_456_789), &p, &platform()).unwrap();
        assert!(is_dns1123_label(&plan.namespace) && plan.namespace.len() == 63, "{}", plan.namespace);
        p["app"] = serde_json::json!(format!("{}-b", "a".repeat(47)));
        let plan = AppPlan::from_params(&RequestId::new(2026, 1), &p, &platform()).unwrap();
        assert!(is_dns1123_label(&plan.namespace), "{}", plan.namespace);
    }
}
