//! The Elastic Load Balancing v2 calls of the load balancer component, as a small trait
//! ([`ElbApi`]) over plain structs, implemented for the real
//! `aws_sdk_elasticloadbalancingv2::Client` and mocked with mockall (feature `mocks`).
//! Describes by name answer `Ok(None)` when the load balancer or target group is missing.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    ProtocolEnum, Tag, TargetDescription, TargetTypeEnum,
};
use tandem_core::AwsError;

use crate::ec2_api::Tags;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadBalancerInfo {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub zone_id: String,
    /// `provisioning`, `active`, `active_impaired`, `failed`.
    pub state: String,
    /// `network` or `application`.
    pub lb_type: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    pub vpc_id: String,
    pub security_groups: Vec<String>,
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadBalancerSpec {
    pub name: String,
    pub lb_type: String,
    pub scheme: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroupInfo {
    pub arn: String,
    pub name: String,
    /// `instance`, `ip`, `lambda`, `alb`.
    pub target_type: String,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub vpc_id: Option<String>,
    pub health_check_protocol: Option<String>,
    pub health_check_path: Option<String>,
    pub load_balancer_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroupSpec {
    pub name: String,
    pub target_type: String,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub vpc_id: Option<String>,
    pub health_check_enabled: bool,
    pub health_check_protocol: Option<String>,
    pub health_check_path: Option<String>,
    /// HTTP codes counted healthy, e.g. `200-399`.
    pub matcher: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListenerInfo {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    pub certificate_arns: Vec<String>,
    /// Target groups of the default forward action.
    pub target_group_arns: Vec<String>,
}

/// A listener forwarding everything to one target group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListenerSpec {
    pub load_balancer_arn: String,
    pub protocol: String,
    pub port: i32,
    pub certificate_arn: Option<String>,
    pub ssl_policy: Option<String>,
    pub target_group_arn: String,
    pub tags: Tags,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ElbApi: Send + Sync {
    async fn describe_load_balancer(
        &self,
        name: String,
    ) -> Result<Option<LoadBalancerInfo>, AwsError>;
    async fn create_load_balancer(
        &self,
        spec: LoadBalancerSpec,
    ) -> Result<LoadBalancerInfo, AwsError>;
    async fn delete_load_balancer(&self, arn: String) -> Result<(), AwsError>;

    async fn describe_target_group(
        &self,
        name: String,
    ) -> Result<Option<TargetGroupInfo>, AwsError>;
    async fn create_target_group(&self, spec: TargetGroupSpec)
        -> Result<TargetGroupInfo, AwsError>;
    async fn delete_target_group(&self, arn: String) -> Result<(), AwsError>;

    /// Ids of the targets registered in the target group (any health state but "unused after deregistration").
    async fn registered_targets(&self, target_group_arn: String) -> Result<Vec<String>, AwsError>;
    async fn register_target(
        &self,
        target_group_arn: String,
        target_id: String,
        port: Option<i32>,
    ) -> Result<(), AwsError>;
    async fn deregister_target(
        &self,
        target_group_arn: String,
        target_id: String,
    ) -> Result<(), AwsError>;

    async fn describe_listeners(
        &self,
        load_balancer_arn: String,
    ) -> Result<Vec<ListenerInfo>, AwsError>;
    /// Returns the listener ARN.
    async fn create_listener(&self, spec: ListenerSpec) -> Result<String, AwsError>;
    async fn modify_listener(
        &self,
        listener_arn: String,
        spec: ListenerSpec,
    ) -> Result<(), AwsError>;
}

fn s(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

fn sdk_tags(tags: Tags) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn lb_info(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> LoadBalancerInfo {
    LoadBalancerInfo {
        arn: s(lb.load_balancer_arn()),
        name: s(lb.load_balancer_name()),
        dns_name: s(lb.dns_name()),
        zone_id: s(lb.canonical_hosted_zone_id()),
        state: lb
            .state()
            .and_then(|st| st.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        lb_type: lb
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        scheme: lb
            .scheme()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        vpc_id: s(lb.vpc_id()),
        security_groups: lb.security_groups().to_vec(),
    }
}

fn tg_info(tg: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> TargetGroupInfo {
    TargetGroupInfo {
        arn: s(tg.target_group_arn()),
        name: s(tg.target_group_name()),
        target_type: tg
            .target_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        protocol: tg.protocol().map(|p| p.as_str().to_string()),
        port: tg.port(),
        vpc_id: tg.vpc_id().map(str::to_string),
        health_check_protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
        health_check_path: tg.health_check_path().map(str::to_string),
        load_balancer_arns: tg.load_balancer_arns().to_vec(),
    }
}

fn listener_info(l: &aws_sdk_elasticloadbalancingv2::types::Listener) -> ListenerInfo {
    let mut tgs = Vec::new();
    for a in l.default_actions() {
        if let Some(t) = a.target_group_arn() {
            tgs.push(t.to_string());
        } else if let Some(fc) = a.forward_config() {
            tgs.extend(
                fc.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            );
        }
    }
    tgs.dedup();
    ListenerInfo {
        arn: s(l.listener_arn()),
        port: l.port().unwrap_or_default(),
        protocol: l
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        certificate_arns: l
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect(),
        target_group_arns: tgs,
    }
}

fn forward(tg: String) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg)
        .build()
}

#[async_trait::async_trait]
impl ElbApi for aws_sdk_elasticloadbalancingv2::Client {
    async fn describe_load_balancer(
        &self,
        name: String,
    ) -> Result<Option<LoadBalancerInfo>, AwsError> {
        match self
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .map_err(AwsError::from_sdk)
        {
            Ok(out) => Ok(out.load_balancers().first().map(lb_info)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_load_balancer(
        &self,
        spec: LoadBalancerSpec,
    ) -> Result<LoadBalancerInfo, AwsError> {
        let mut req = self
            .create_load_balancer()
            .name(spec.name)
            .r#type(LoadBalancerTypeEnum::from(spec.lb_type.as_str()))
            .scheme(LoadBalancerSchemeEnum::from(spec.scheme.as_str()))
            .set_subnets(Some(spec.subnets))
            .set_tags(Some(sdk_tags(spec.tags)));
        if !spec.security_groups.is_empty() {
            req = req.set_security_groups(Some(spec.security_groups));
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        out.load_balancers().first().map(lb_info).ok_or_else(|| {
            AwsError::other(
                "EmptyResponse",
                "CreateLoadBalancer returned no load balancer",
            )
        })
    }

    async fn delete_load_balancer(&self, arn: String) -> Result<(), AwsError> {
        self.delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_target_group(
        &self,
        name: String,
    ) -> Result<Option<TargetGroupInfo>, AwsError> {
        match self
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(AwsError::from_sdk)
        {
            Ok(out) => Ok(out.target_groups().first().map(tg_info)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_target_group(
        &self,
        spec: TargetGroupSpec,
    ) -> Result<TargetGroupInfo, AwsError> {
        let mut req = self
            .create_target_group()
            .name(spec.name)
            .target_type(TargetTypeEnum::from(spec.target_type.as_str()))
            .health_check_enabled(spec.health_check_enabled)
            .set_tags(Some(sdk_tags(spec.tags)));
        if let Some(p) = spec.protocol {
            req = req.protocol(ProtocolEnum::from(p.as_str()));
        }
        req = req.set_port(spec.port).set_vpc_id(spec.vpc_id);
        if let Some(p) = spec.health_check_protocol {
            req = req.health_check_protocol(ProtocolEnum::from(p.as_str()));
        }
        req = req.set_health_check_path(spec.health_check_path);
        if let Some(m) = spec.matcher {
            req = req.matcher(Matcher::builder().http_code(m).build());
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        out.target_groups().first().map(tg_info).ok_or_else(|| {
            AwsError::other(
                "EmptyResponse",
                "CreateTargetGroup returned no target group",
            )
        })
    }

    async fn delete_target_group(&self, arn: String) -> Result<(), AwsError> {
        self.delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn registered_targets(&self, target_group_arn: String) -> Result<Vec<String>, AwsError> {
        let out = self
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                // Deregistered targets linger as "unused"/"draining" with reason Target.NotRegistered / DeregistrationInProgress.
                let reason = d
                    .target_health()
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default();
                reason != "Target.NotRegistered" && reason != "Target.DeregistrationInProgress"
            })
            .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
            .collect())
    }

    async fn register_target(
        &self,
        target_group_arn: String,
        target_id: String,
        port: Option<i32>,
    ) -> Result<(), AwsError> {
        let target = TargetDescription::builder()
            .id(target_id)
            .set_port(port)
            .build();
        self.register_targets()
            .target_group_arn(target_group_arn)
            .targets(target)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn deregister_target(
        &self,
        target_group_arn: String,
        target_id: String,
    ) -> Result<(), AwsError> {
        let target = TargetDescription::builder().id(target_id).build();
        self.deregister_targets()
            .target_group_arn(target_group_arn)
            .targets(target)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_listeners(
        &self,
        load_balancer_arn: String,
    ) -> Result<Vec<ListenerInfo>, AwsError> {
        match self
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)
        {
            Ok(out) => Ok(out.listeners().iter().map(listener_info).collect()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn create_listener(&self, spec: ListenerSpec) -> Result<String, AwsError> {
        let mut req = self
            .create_listener()
            .load_balancer_arn(spec.load_balancer_arn)
            .protocol(ProtocolEnum::from(spec.protocol.as_str()))
            .port(spec.port)
            .default_actions(forward(spec.target_group_arn))
            .set_ssl_policy(spec.ssl_policy)
            .set_tags(Some(sdk_tags(spec.tags)));
        if let Some(c) = spec.certificate_arn {
            req = req.certificates(Certificate::builder().certificate_arn(c).build());
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        out.listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateListener returned no listener"))
    }

    async fn modify_listener(
        &self,
        listener_arn: String,
        spec: ListenerSpec,
    ) -> Result<(), AwsError> {
        let mut req = self
            .modify_listener()
            .listener_arn(listener_arn)
            .protocol(ProtocolEnum::from(spec.protocol.as_str()))
            .port(spec.port)
            .default_actions(forward(spec.target_group_arn))
            .set_ssl_policy(spec.ssl_policy);
        if let Some(c) = spec.certificate_arn {
            req = req.certificates(Certificate::builder().certificate_arn(c).build());
        }
        req.send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}
