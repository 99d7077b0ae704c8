//! The Kubernetes side of the hosting platform as the inventory describes it
//! (`hosting_platform.kubernetes` in `datacenter.yaml`): how to reach the cluster, where its
//! ingress answers, and the settings every application namespace gets.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::names::{is_dns1123_subdomain, is_qualified_key};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesPlatform {
    /// A kubeconfig file; without it kolokasi uses the in-cluster service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the file's current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where the cluster's ingress answers; the DNS records of hosted domains point here.
    pub ingress: IngressAddress,
    /// `spec.ingressClassName` of every Ingress.
    pub ingress_class: String,
    /// The cert-manager annotation that gets each Ingress its certificate.
    pub tls_issuer: TlsIssuer,
    /// Who may deploy into an application's namespace.
    pub deploy: DeploySubject,
    /// How long an undo waits for a namespace to be gone (default 120 s).
    #[serde(default = "default_wait")]
    pub namespace_wait_seconds: u64,
}

fn default_wait() -> u64 {
    120
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsIssuer {
    /// `cert-manager.io/cluster-issuer` (default) or `cert-manager.io/issuer`.
    #[serde(default = "default_issuer_annotation")]
    pub annotation: String,
    /// The issuer's name, e.g. `letsencrypt-prod`.
    pub name: String,
}

fn default_issuer_annotation() -> String {
    "cert-manager.io/cluster-issuer".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectKind {
    User,
    Group,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySubject {
    /// `Group` (default) or `User`, as the cluster's identity provider knows them.
    #[serde(default = "default_subject_kind")]
    pub kind: SubjectKind,
    /// The account's name with placeholders `{unit}` (the unit's name as a label),
    /// `{namespace}` and `{request}` (the request number in lower case), e.g. `opd:{unit}`.
    // TODO(design): two units whose names encode alike ("Dinas A", "dinas-a") would share
    // `{unit}`; a unit code from the unit register would be a better key once there is one.
    pub name: String,
    /// The ClusterRole bound in the namespace (default `edit`).
    #[serde(default = "default_role")]
    pub cluster_role: String,
}

fn default_subject_kind() -> SubjectKind {
    SubjectKind::Group
}

fn default_role() -> String {
    "edit".into()
}

const PLACEHOLDERS: &[&str] = &["{unit}", "{namespace}", "{request}"];

impl KubernetesPlatform {
    /// Rules the API server would otherwise reject later, one object at a time.
    pub fn validate(&self) -> Result<(), String> {
        if self.ingress.ipv4.is_none() && self.ingress.ipv6.is_none() {
            return Err("kubernetes.ingress needs ipv4 and/or ipv6".into());
        }
        if !is_dns1123_subdomain(&self.ingress_class) {
            return Err(format!("kubernetes.ingress_class {:?} is not a DNS-1123 name", self.ingress_class));
        }
        if !is_qualified_key(&self.tls_issuer.annotation) {
            return Err(format!(
                "kubernetes.tls_issuer.annotation {:?} is not an annotation key",
                self.tls_issuer.annotation
            ));
        }
        if !is_dns1123_subdomain(&self.tls_issuer.name) {
            return Err(format!("kubernetes.tls_issuer.name {:?} is not a DNS-1123 name", self.tls_issuer.name));
        }
        if !is_dns1123_subdomain(&self.deploy.cluster_role.replace(':', "-")) {
            return Err(format!("kubernetes.deploy.cluster_role {:?} is not a role name", self.deploy.cluster_role));
        }
        let mut rest = self.deploy.name.clone();
        for p in PLACEHOLDERS {
            rest = rest.replace(p, "x");
        }
        let ok = !rest.is_empty() && rest.len() <= 200 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
        if !ok {
            return Err(format!(
                "kubernetes.deploy.name {:?} may hold letters, digits, - _ . : @ and the placeholders {}",
                self.deploy.name,
                PLACEHOLDERS.join(" ")
            ));
        }
        if self.context.as_ref().is_some_and(|c| c.trim().is_empty()) {
            return Err("kubernetes.context is empty".into());
        }
        Ok(())
    }

    /// The deploy account of one application.
    pub fn deploy_name(&self, unit: &str, namespace: &str, request: &str) -> String {
        self.deploy
            .name
            .replace("{unit}", unit)
            .replace("{namespace}", namespace)
            .replace("{request}", request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_inventory_has_a_valid_cluster_and_bad_settings_are_named() {
        let inv = crate::capacity::Inventory::example();
        let good = inv.hosting_platform.unwrap().kubernetes.expect("the example has a kubernetes section");
        good.validate().unwrap();
        assert_eq!(good.deploy_name("dinas-x", "ns", "klk-2026-00001"), "opd:dinas-x");
        let bad = |f: &dyn Fn(&mut KubernetesPlatform)| {
            let mut p = good.clone();
            f(&mut p);
            p.validate().unwrap_err()
        };
        assert!(bad(&|p| p.ingress = IngressAddress { ipv4: None, ipv6: None }).contains("ingress"));
        assert!(bad(&|p| p.ingress_class = "Nginx Public".into()).contains("ingress_class"));
        assert!(bad(&|p| p.tls_issuer.annotation = "cert manager/issuer".into()).contains("annotation"));
        assert!(bad(&|p| p.tls_issuer.name = "le;rm".into()).contains("tls_issuer.name"));
        assert!(bad(&|p| p.deploy.name = "opd:{unit} $(id)".into()).contains("deploy.name"));
        assert!(bad(&|p| p.deploy.name = "{secret}".into()).contains("deploy.name"));
        assert!(bad(&|p| p.context = Some(" ".into())).contains("context"));
        let text = include_str!("../../deploy/examples/datacenter.yaml").replace("ingress_class: nginx", "ingress_class: nginx\n    surprise: 1");
        assert!(
            crate::capacity::Inventory::from_yaml(&text, "x.yaml")
                .unwrap_err()
                .to_string()
                .contains("surprise")
        );
    }
}
