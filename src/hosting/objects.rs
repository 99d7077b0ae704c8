//! The Kubernetes objects of one hosted application, built from its [`AppPlan`] as typed
//! k8s-openapi values: the namespace, its quota and default limits, a default-deny network
//! policy plus one allowing the declared ports, the Ingress with TLS, and the deploy binding.
//! Pure functions; `kubernetes.rs` sends them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy,
    NetworkPolicyIngressRule, NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::plan::{self, AppPlan};
use crate::domain::Protocol;

/// Every object of one application, in the order they are applied (the namespace first; an
/// undo deletes in reverse).
#[derive(Debug, Clone, PartialEq)]
pub struct AppObjects {
    pub namespace: Namespace,
    pub quota: ResourceQuota,
    pub limits: LimitRange,
    pub default_deny: NetworkPolicy,
    pub allow_services: NetworkPolicy,
    pub ingress: Ingress,
    pub deploy: RoleBinding,
}

fn meta(plan: &AppPlan, name: &str, namespaced: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespaced.then(|| plan.namespace.clone()),
        labels: Some(plan.labels.clone()),
        annotations: Some(plan.annotations.clone()),
        ..Default::default()
    }
}

fn q(s: String) -> Quantity {
    Quantity(s)
}

fn quantities(pairs: &[(&str, String)]) -> Option<BTreeMap<String, Quantity>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), q(v.clone()))).collect())
}

/// CPU in thousandths of a core, written as the API server writes it back (`250m`, `4`, `2k`),
/// so a read-back compares equal.
fn cpu(milli: u64) -> String {
    if !milli.is_multiple_of(1000) {
        return format!("{milli}m");
    }
    let (mut n, mut suffix) = (milli / 1000, 0);
    while n >= 1000 && n.is_multiple_of(1000) && suffix < 3 {
        n /= 1000;
        suffix += 1;
    }
    format!("{n}{}", ["", "k", "M", "G"][suffix])
}

/// Memory or storage in MiB, in the API server's canonical binary form (`256Mi`, `8Gi`, `1Ti`).
fn bytes(mib: u64) -> String {
    let (mut n, mut suffix) = (mib, 0);
    while n >= 1024 && n.is_multiple_of(1024) && suffix < 3 {
        n /= 1024;
        suffix += 1;
    }
    format!("{n}{}", ["Mi", "Gi", "Ti", "Pi"][suffix])
}

/// A container's default: a quarter of the application's total, at least 250m CPU and 256Mi.
fn default_share(total_cores: u64, total_gb: u64) -> (String, String) {
    let milli = (total_cores * 1000 / 4).max(250).min(total_cores * 1000);
    let mib = (total_gb * 1024 / 4).max(256).min(total_gb * 1024);
    (cpu(milli), bytes(mib))
}

/// The namespace's whole share: the declared CPU, memory and storage.
fn quota(plan: &AppPlan) -> ResourceQuota {
    let cores = cpu(plan.cpu_cores * 1000);
    let ram = bytes(plan.ram_gb * 1024);
    ResourceQuota {
        metadata: meta(plan, plan::QUOTA, true),
        spec: Some(ResourceQuotaSpec {
            hard: quantities(&[
                ("requests.cpu", cores.clone()),
                ("limits.cpu", cores),
                ("requests.memory", ram.clone()),
                ("limits.memory", ram),
                ("requests.storage", bytes(plan.storage_gb * 1024)),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Each container's default and ceiling, and each volume claim's ceiling.
fn limits(plan: &AppPlan) -> LimitRange {
    let (cpu_default, mem_default) = default_share(plan.cpu_cores, plan.ram_gb);
    LimitRange {
        metadata: meta(plan, plan::LIMITS, true),
        spec: Some(LimitRangeSpec {
            limits: vec![
                LimitRangeItem {
                    type_: "Container".into(),
                    default: quantities(&[("cpu", cpu_default), ("memory", mem_default)]),
                    default_request: quantities(&[("cpu", "100m".into()), ("memory", "128Mi".into())]),
                    max: quantities(&[("cpu", cpu(plan.cpu_cores * 1000)), ("memory", bytes(plan.ram_gb * 1024))]),
                    ..Default::default()
                },
                LimitRangeItem {
                    type_: "PersistentVolumeClaim".into(),
                    max: quantities(&[("storage", bytes(plan.storage_gb * 1024))]),
                    ..Default::default()
                },
            ],
        }),
    }
}

/// What reaches the application: the services the unit declared, from anywhere.
fn allow_services(plan: &AppPlan) -> NetworkPolicy {
    let ports = plan
        .services
        .iter()
        .map(|s| NetworkPolicyPort {
            protocol: Some(match s.protocol {
                Protocol::Tcp => "TCP".into(),
                Protocol::Udp => "UDP".into(),
            }),
            port: Some(IntOrString::Int(i32::from(s.port))),
            end_port: None,
        })
        .collect();
    NetworkPolicy {
        metadata: meta(plan, plan::ALLOW_SERVICES, true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: None,
                ports: Some(ports),
            }]),
            ..Default::default()
        }),
    }
}

/// The domain over TLS (the issuer's annotation) to the backend service.
fn ingress(plan: &AppPlan) -> Ingress {
    let mut metadata = meta(plan, plan::INGRESS, true);
    metadata.annotations.get_or_insert_default().insert(plan.issuer.0.clone(), plan.issuer.1.clone());
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: plan.backend.as_str().into(),
            port: Some(ServiceBackendPort {
                number: Some(i32::from(plan.backend_port)),
                name: None,
            }),
        }),
        resource: None,
    };
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(plan.ingress_class.clone()),
            tls: Some(vec![IngressTLS {
                hosts: Some(vec![plan.domain.as_str().into()]),
                secret_name: Some(plan::TLS_SECRET.into()),
            }]),
            rules: Some(vec![IngressRule {
                host: Some(plan.domain.as_str().into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend,
                    }],
                }),
            }]),
            default_backend: None,
        }),
        ..Default::default()
    }
}

impl AppObjects {
    pub fn build(plan: &AppPlan) -> Self {
        Self {
            namespace: Namespace {
                metadata: meta(plan, &plan.namespace, false),
                ..Default::default()
            },
            quota: quota(plan),
            limits: limits(plan),
            // Ingress only: applications may still reach out (DNS, their databases); what
            // reaches them is what the unit declared.
            default_deny: NetworkPolicy {
                metadata: meta(plan, plan::DEFAULT_DENY, true),
                spec: Some(NetworkPolicySpec {
                    pod_selector: Some(LabelSelector::default()),
                    policy_types: Some(vec!["Ingress".into()]),
                    ..Default::default()
                }),
            },
            allow_services: allow_services(plan),
            ingress: ingress(plan),
            deploy: RoleBinding {
                metadata: meta(plan, plan::DEPLOY_BINDING, true),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: plan.cluster_role.clone(),
                },
                subjects: Some(vec![Subject {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: plan.deploy_kind.as_str().into(),
                    name: plan.deploy_name.clone(),
                    namespace: None,
                }]),
            },
        }
    }

    /// `(kind, name)` of every namespaced object, in apply order (the namespace itself aside).
    pub fn namespaced(&self) -> [(&'static str, &'static str); 6] {
        [
            ("ResourceQuota", plan::QUOTA),
            ("LimitRange", plan::LIMITS),
            ("NetworkPolicy", plan::DEFAULT_DENY),
            ("NetworkPolicy", plan::ALLOW_SERVICES),
            ("Ingress", plan::INGRESS),
            ("RoleBinding", plan::DEPLOY_BINDING),
        ]
    }

    /// Each object as the JSON sent to the API server, with its `apiVersion` and `kind`.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        let v = |x: serde_json::Result<serde_json::Value>| x.expect("k8s-openapi objects serialise");
        vec![
            v(serde_json::to_value(&self.namespace)),
            v(serde_json::to_value(&self.quota)),
            v(serde_json::to_value(&self.limits)),
            v(serde_json::to_value(&self.default_deny)),
            v(serde_json::to_value(&self.allow_services)),
            v(serde_json::to_value(&self.ingress)),
            v(serde_json::to_value(&self.deploy)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::names::{is_dns1123_label, is_dns1123_subdomain, is_label_value, is_qualified_key};
    use crate::hosting::plan::tests::sample;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// Serialised, read back as the typed struct and serialised again: the same JSON, so no
    /// field we send is one k8s-openapi (hence the API) does not know.
    fn round_trip<K: serde::Serialize + DeserializeOwned>(value: &Value) {
        let typed: K = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(&serde_json::to_value(&typed).unwrap(), value);
    }

    #[test]
    fn every_object_round_trips_through_its_type_and_follows_the_naming_rules() {
        let plan = sample();
        let objects = AppObjects::build(&plan);
        let json = objects.to_json();
        let kinds: Vec<&str> = json.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ResourceQuota",
                "LimitRange",
                "NetworkPolicy",
                "NetworkPolicy",
                "Ingress",
                "RoleBinding"
            ]
        );
        round_trip::<Namespace>(&json[0]);
        round_trip::<ResourceQuota>(&json[1]);
        round_trip::<LimitRange>(&json[2]);
        round_trip::<NetworkPolicy>(&json[3]);
        round_trip::<NetworkPolicy>(&json[4]);
        round_trip::<Ingress>(&json[5]);
        round_trip::<RoleBinding>(&json[6]);
        for o in &json {
            let m = &o["metadata"];
            let name = m["name"].as_str().unwrap();
            if o["kind"] == "Namespace" {
                assert!(is_dns1123_label(name) && m.get("namespace").is_none());
            } else {
                assert!(is_dns1123_subdomain(name), "{name}");
                assert_eq!(m["namespace"], json!(plan.namespace));
            }
            for (k, v) in m["labels"].as_object().unwrap() {
                assert!(is_qualified_key(k) && is_label_value(v.as_str().unwrap()), "{k}={v}");
            }
            for k in m["annotations"].as_object().unwrap().keys() {
                assert!(is_qualified_key(k), "{k}");
            }
        }
        assert_eq!(
            json[1]["spec"]["hard"],
            json!({"limits.cpu": "4", "limits.memory": "8Gi", "requests.cpu": "4", "requests.memory": "8Gi", "requests.storage": "50Gi"})
        );
        assert_eq!(json[2]["spec"]["limits"][0]["default"], json!({"cpu": "1", "memory": "2Gi"}));
        assert_eq!(json[3]["spec"], json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
        assert_eq!(json[4]["spec"]["ingress"][0]["ports"], json!([{"port": 443, "protocol": "TCP"}]));
        assert_eq!(json[5]["spec"]["rules"][0]["host"], json!("pajak.kaltimprov.go.id"));
        assert_eq!(
            json[5]["spec"]["tls"][0],
            json!({"hosts": ["pajak.kaltimprov.go.id"], "secretName": "kolokasi-tls"})
        );
        assert_eq!(json[5]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], json!("letsencrypt-prod"));
        assert_eq!(
            json[6]["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"})
        );
        assert_eq!(json[6]["subjects"][0]["kind"], json!("Group"));
    }

    #[test]
    fn defaults_never_exceed_the_totals_and_quantities_are_canonical() {
        assert_eq!(default_share(1, 1), ("250m".into(), "256Mi".into()));
        assert_eq!(default_share(16, 64), ("4".into(), "16Gi".into()));
        assert_eq!(default_share(3, 3), ("750m".into(), "768Mi".into()));
        assert_eq!(
            (cpu(2_000_000), cpu(1500), bytes(1024 * 1024), bytes(1536)),
            ("2k".into(), "1500m".into(), "1Ti".into(), "1536Mi".into())
        );
    }
}
