//! The EC2 calls the network components make, as a small trait ([`Ec2Api`]) over plain
//! structs, implemented for the real `aws_sdk_ec2::Client` and mocked with mockall (feature
//! `mocks`). Describe calls that name a missing id answer `Ok(None)` / an empty list; every
//! other error is an [`AwsError`] keeping code, message and HTTP status.

use tandem_core::paging::PageTokens;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
};
use tandem_core::AwsError;

/// Tags as (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// A describe filter: (name, value), e.g. `("vpc-id", "vpc-123")`, `("tag:Name", "vpc-primary-dev")`.
pub type Filters = Vec<(String, String)>;

/// Builds a filter list from string pairs.
pub fn filters(pairs: &[(&str, &str)]) -> Filters {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpcInfo {
    pub id: String,
    pub cidr: String,
    pub state: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub cidr: String,
    pub az: String,
    pub map_public_ip_on_launch: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternetGatewayInfo {
    pub id: String,
    /// VPCs the gateway is attached to (attaching/attached).
    pub attached_vpcs: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteInfo {
    pub destination: String,
    pub gateway_id: Option<String>,
    pub peering_connection_id: Option<String>,
    /// `active` or `blackhole`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssociationInfo {
    pub id: String,
    pub subnet_id: Option<String>,
    pub main: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTableInfo {
    pub id: String,
    pub vpc_id: String,
    pub associations: Vec<AssociationInfo>,
    pub routes: Vec<RouteInfo>,
    pub tags: Tags,
}

impl RouteTableInfo {
    /// True for the VPC's main route table (created with the VPC, deleted with it).
    pub fn is_main(&self) -> bool {
        self.associations.iter().any(|a| a.main)
    }

    pub fn route_to(&self, destination: &str) -> Option<&RouteInfo> {
        self.routes.iter().find(|r| r.destination == destination)
    }
}

/// One IPv4 ingress rule (description ignored when comparing).
#[derive(Debug, Clone, Eq, Default)]
pub struct IngressRule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: String,
    pub description: Option<String>,
}

impl PartialEq for IngressRule {
    fn eq(&self, other: &Self) -> bool {
        self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.cidr == other.cidr
    }
}

impl IngressRule {
    pub fn tcp(port: i32, cidr: &str, description: &str) -> Self {
        Self {
            protocol: "tcp".into(),
            from_port: port,
            to_port: port,
            cidr: cidr.into(),
            description: Some(description.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    /// IPv4 CIDR ingress rules, one per (protocol, ports, CIDR).
    pub ingress: Vec<IngressRule>,
    /// Ingress sources that are not IPv4 CIDRs (security groups, prefix lists, IPv6), as text.
    pub other_ingress: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterfaceInfo {
    pub id: String,
    pub description: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeeringInfo {
    pub id: String,
    /// `initiating-request`, `pending-acceptance`, `provisioning`, `active`, `deleted`, ...
    pub status: String,
    pub status_message: String,
    pub requester_vpc_id: String,
    pub accepter_vpc_id: String,
    pub accepter_region: String,
    pub tags: Tags,
}

impl PeeringInfo {
    /// Terminal states in which the connection is gone or unusable.
    pub fn is_dead(&self) -> bool {
        matches!(
            self.status.as_str(),
            "deleted" | "deleting" | "rejected" | "failed" | "expired"
        )
    }
}

/// Where a route points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    Gateway(String),
    Peering(String),
}

/// The two DNS attributes of a VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpcDnsAttribute {
    Support,
    Hostnames,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Ec2Api: Send + Sync {
    /// Names of the region's available availability zones (zone type `availability-zone`), sorted.
    async fn describe_availability_zones(&self) -> Result<Vec<String>, AwsError>;

    async fn describe_vpc(&self, vpc_id: String) -> Result<Option<VpcInfo>, AwsError>;
    async fn find_vpcs(&self, filters: Filters) -> Result<Vec<VpcInfo>, AwsError>;
    async fn create_vpc(&self, cidr: String, tags: Tags) -> Result<VpcInfo, AwsError>;
    async fn vpc_dns_attribute(
        &self,
        vpc_id: String,
        attribute: VpcDnsAttribute,
    ) -> Result<bool, AwsError>;
    async fn set_vpc_dns_attribute(
        &self,
        vpc_id: String,
        attribute: VpcDnsAttribute,
        value: bool,
    ) -> Result<(), AwsError>;
    async fn delete_vpc(&self, vpc_id: String) -> Result<(), AwsError>;

    async fn describe_subnets(&self, filters: Filters) -> Result<Vec<SubnetInfo>, AwsError>;
    async fn create_subnet(
        &self,
        vpc_id: String,
        cidr: String,
        az: String,
        tags: Tags,
    ) -> Result<SubnetInfo, AwsError>;
    async fn set_map_public_ip_on_launch(
        &self,
        subnet_id: String,
        value: bool,
    ) -> Result<(), AwsError>;
    async fn delete_subnet(&self, subnet_id: String) -> Result<(), AwsError>;

    async fn describe_internet_gateways(
        &self,
        filters: Filters,
    ) -> Result<Vec<InternetGatewayInfo>, AwsError>;
    async fn create_internet_gateway(&self, tags: Tags) -> Result<String, AwsError>;
    async fn attach_internet_gateway(&self, igw_id: String, vpc_id: String)
        -> Result<(), AwsError>;
    async fn detach_internet_gateway(&self, igw_id: String, vpc_id: String)
        -> Result<(), AwsError>;
    async fn delete_internet_gateway(&self, igw_id: String) -> Result<(), AwsError>;

    async fn describe_route_tables(
        &self,
        filters: Filters,
    ) -> Result<Vec<RouteTableInfo>, AwsError>;
    /// `client_token`: the journal's idempotency token (EC2 deduplicates creates carrying it).
    async fn create_route_table(
        &self,
        vpc_id: String,
        tags: Tags,
        client_token: String,
    ) -> Result<String, AwsError>;
    /// Returns the association id.
    async fn associate_route_table(
        &self,
        route_table_id: String,
        subnet_id: String,
    ) -> Result<String, AwsError>;
    async fn disassociate_route_table(&self, association_id: String) -> Result<(), AwsError>;
    async fn create_route(
        &self,
        route_table_id: String,
        destination: String,
        target: RouteTarget,
    ) -> Result<(), AwsError>;
    async fn replace_route(
        &self,
        route_table_id: String,
        destination: String,
        target: RouteTarget,
    ) -> Result<(), AwsError>;
    async fn delete_route(
        &self,
        route_table_id: String,
        destination: String,
    ) -> Result<(), AwsError>;
    async fn delete_route_table(&self, route_table_id: String) -> Result<(), AwsError>;

    async fn describe_security_groups(
        &self,
        filters: Filters,
    ) -> Result<Vec<SecurityGroupInfo>, AwsError>;
    async fn create_security_group(
        &self,
        vpc_id: String,
        name: String,
        description: String,
        tags: Tags,
    ) -> Result<String, AwsError>;
    async fn authorize_ingress(
        &self,
        group_id: String,
        rules: Vec<IngressRule>,
    ) -> Result<(), AwsError>;
    async fn revoke_ingress(
        &self,
        group_id: String,
        rules: Vec<IngressRule>,
    ) -> Result<(), AwsError>;
    async fn delete_security_group(&self, group_id: String) -> Result<(), AwsError>;

    async fn describe_network_interfaces(
        &self,
        filters: Filters,
    ) -> Result<Vec<NetworkInterfaceInfo>, AwsError>;

    async fn create_vpc_peering_connection(
        &self,
        vpc_id: String,
        peer_vpc_id: String,
        peer_region: String,
        tags: Tags,
    ) -> Result<PeeringInfo, AwsError>;
    async fn describe_vpc_peering_connection(
        &self,
        peering_id: String,
    ) -> Result<Option<PeeringInfo>, AwsError>;
    /// Connections between the two VPCs (any state), requester side first.
    async fn find_vpc_peering_connections(
        &self,
        requester_vpc_id: String,
        accepter_vpc_id: String,
    ) -> Result<Vec<PeeringInfo>, AwsError>;
    async fn accept_vpc_peering_connection(&self, peering_id: String) -> Result<(), AwsError>;
    async fn delete_vpc_peering_connection(&self, peering_id: String) -> Result<(), AwsError>;
}

/// Per-operation config of a create sent once: the core's protocol is its only retry (a
/// lost answer is looked up by tag before anything is sent again).
fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(tandem_core::aws::single_attempt())
}

fn sdk_filters(f: Filters) -> Vec<Filter> {
    f.into_iter()
        .map(|(name, value)| Filter::builder().name(name).values(value).build())
        .collect()
}

fn tag_spec(resource: ResourceType, tags: Tags) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(resource);
    for (k, v) in tags {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.build()
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn s(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

fn vpc_info(v: &aws_sdk_ec2::types::Vpc) -> VpcInfo {
    VpcInfo {
        id: s(v.vpc_id()),
        cidr: s(v.cidr_block()),
        state: v
            .state()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        tags: tags_of(v.tags()),
    }
}

fn subnet_info(x: &aws_sdk_ec2::types::Subnet) -> SubnetInfo {
    SubnetInfo {
        id: s(x.subnet_id()),
        vpc_id: s(x.vpc_id()),
        cidr: s(x.cidr_block()),
        az: s(x.availability_zone()),
        map_public_ip_on_launch: x.map_public_ip_on_launch().unwrap_or(false),
        tags: tags_of(x.tags()),
    }
}

fn peering_info(p: &aws_sdk_ec2::types::VpcPeeringConnection) -> PeeringInfo {
    PeeringInfo {
        id: s(p.vpc_peering_connection_id()),
        status: p
            .status()
            .and_then(|st| st.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        status_message: s(p.status().and_then(|st| st.message())),
        requester_vpc_id: s(p.requester_vpc_info().and_then(|i| i.vpc_id())),
        accepter_vpc_id: s(p.accepter_vpc_info().and_then(|i| i.vpc_id())),
        accepter_region: s(p.accepter_vpc_info().and_then(|i| i.region())),
        tags: tags_of(p.tags()),
    }
}

fn ip_permissions(rules: Vec<IngressRule>) -> Vec<IpPermission> {
    rules
        .into_iter()
        .map(|r| {
            let mut range = IpRange::builder().cidr_ip(r.cidr);
            if let Some(d) = r.description {
                range = range.description(d);
            }
            IpPermission::builder()
                .ip_protocol(r.protocol)
                .from_port(r.from_port)
                .to_port(r.to_port)
                .ip_ranges(range.build())
                .build()
        })
        .collect()
}

/// Missing ids answer NotFound on describe: reduce that to "nothing".
fn none_if_not_found<T>(r: Result<Vec<T>, AwsError>) -> Result<Vec<T>, AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}


/// Every item of a paginated EC2 read, its page tokens checked ([`PageTokens`]): the SDK's
/// own paginator stops silently on a repeated token (a short listing); here it is an error.
macro_rules! all_items {
    ($req:expr, $op:literal, $items:ident) => {
        async {
            let mut stream = $req.into_paginator().stop_on_duplicate_token(false).send();
            let mut pages = PageTokens::new($op, "the region");
            let mut all = Vec::new();
            while let Some(page) = stream.next().await {
                let page = page.map_err(AwsError::from_sdk)?;
                all.extend(page.$items().iter().cloned());
                if pages.next(page.next_token())?.is_none() {
                    break;
                }
            }
            Ok::<_, AwsError>(all)
        }
        .await
    };
}

#[async_trait::async_trait]
impl Ec2Api for aws_sdk_ec2::Client {
    async fn describe_availability_zones(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .describe_availability_zones()
            .filters(Filter::builder().name("state").values("available").build())
            .filters(
                Filter::builder()
                    .name("zone-type")
                    .values("availability-zone")
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let mut names: Vec<String> = out
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn describe_vpc(&self, vpc_id: String) -> Result<Option<VpcInfo>, AwsError> {
        let r = self
            .describe_vpcs()
            .vpc_ids(vpc_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .map(|o| o.vpcs().iter().map(vpc_info).collect());
        Ok(none_if_not_found(r)?.into_iter().next())
    }

    async fn find_vpcs(&self, filters: Filters) -> Result<Vec<VpcInfo>, AwsError> {
        let items = all_items!(self
            .describe_vpcs()
            .set_filters(Some(sdk_filters(filters))), "DescribeVpcs", vpcs);
        Ok(items?
            .iter()
            .map(vpc_info)
            .collect())
    }

    async fn create_vpc(&self, cidr: String, tags: Tags) -> Result<VpcInfo, AwsError> {
        let out = self
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(tag_spec(ResourceType::Vpc, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.vpc()
            .map(vpc_info)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateVpc returned no VPC"))
    }

    async fn vpc_dns_attribute(
        &self,
        vpc_id: String,
        attribute: VpcDnsAttribute,
    ) -> Result<bool, AwsError> {
        let name = match attribute {
            VpcDnsAttribute::Support => aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
            VpcDnsAttribute::Hostnames => aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        };
        let out = self
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(name)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let v = match attribute {
            VpcDnsAttribute::Support => out.enable_dns_support(),
            VpcDnsAttribute::Hostnames => out.enable_dns_hostnames(),
        };
        Ok(v.and_then(|b| b.value()).unwrap_or(false))
    }

    async fn set_vpc_dns_attribute(
        &self,
        vpc_id: String,
        attribute: VpcDnsAttribute,
        value: bool,
    ) -> Result<(), AwsError> {
        let v = AttributeBooleanValue::builder().value(value).build();
        let req = self.modify_vpc_attribute().vpc_id(vpc_id);
        let req = match attribute {
            VpcDnsAttribute::Support => req.enable_dns_support(v),
            VpcDnsAttribute::Hostnames => req.enable_dns_hostnames(v),
        };
        req.send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_vpc(&self, vpc_id: String) -> Result<(), AwsError> {
        self.delete_vpc()
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_subnets(&self, filters: Filters) -> Result<Vec<SubnetInfo>, AwsError> {
        let items = all_items!(self
            .describe_subnets()
            .set_filters(Some(sdk_filters(filters))), "DescribeSubnets", subnets);
        Ok(none_if_not_found(items)?
            .iter()
            .map(subnet_info)
            .collect())
    }

    async fn create_subnet(
        &self,
        vpc_id: String,
        cidr: String,
        az: String,
        tags: Tags,
    ) -> Result<SubnetInfo, AwsError> {
        let out = self
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr)
            .availability_zone(az)
            .tag_specifications(tag_spec(ResourceType::Subnet, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.subnet()
            .map(subnet_info)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateSubnet returned no subnet"))
    }

    async fn set_map_public_ip_on_launch(
        &self,
        subnet_id: String,
        value: bool,
    ) -> Result<(), AwsError> {
        self.modify_subnet_attribute()
            .subnet_id(subnet_id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_subnet(&self, subnet_id: String) -> Result<(), AwsError> {
        self.delete_subnet()
            .subnet_id(subnet_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_internet_gateways(
        &self,
        filters: Filters,
    ) -> Result<Vec<InternetGatewayInfo>, AwsError> {
        let items = all_items!(self
            .describe_internet_gateways()
            .set_filters(Some(sdk_filters(filters))), "DescribeInternetGateways", internet_gateways);
        Ok(none_if_not_found(items)?
            .iter()
            .map(|g| InternetGatewayInfo {
                id: s(g.internet_gateway_id()),
                attached_vpcs: g
                    .attachments()
                    .iter()
                    .filter(|a| {
                        a.state().is_some_and(|st| {
                            matches!(st.as_str(), "attached" | "attaching" | "available")
                        })
                    })
                    .filter_map(|a| a.vpc_id().map(str::to_string))
                    .collect(),
                tags: tags_of(g.tags()),
            })
            .collect())
    }

    async fn create_internet_gateway(&self, tags: Tags) -> Result<String, AwsError> {
        let out = self
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateInternetGateway returned no id"))
    }

    async fn attach_internet_gateway(
        &self,
        igw_id: String,
        vpc_id: String,
    ) -> Result<(), AwsError> {
        self.attach_internet_gateway()
            .internet_gateway_id(igw_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn detach_internet_gateway(
        &self,
        igw_id: String,
        vpc_id: String,
    ) -> Result<(), AwsError> {
        self.detach_internet_gateway()
            .internet_gateway_id(igw_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_internet_gateway(&self, igw_id: String) -> Result<(), AwsError> {
        self.delete_internet_gateway()
            .internet_gateway_id(igw_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_route_tables(
        &self,
        filters: Filters,
    ) -> Result<Vec<RouteTableInfo>, AwsError> {
        let items = all_items!(self
            .describe_route_tables()
            .set_filters(Some(sdk_filters(filters))), "DescribeRouteTables", route_tables);
        Ok(none_if_not_found(items)?
            .iter()
            .map(|t| RouteTableInfo {
                id: s(t.route_table_id()),
                vpc_id: s(t.vpc_id()),
                associations: t
                    .associations()
                    .iter()
                    .filter(|a| {
                        a.association_state()
                            .and_then(|st| st.state())
                            .is_none_or(|st| matches!(st.as_str(), "associated" | "associating"))
                    })
                    .map(|a| AssociationInfo {
                        id: s(a.route_table_association_id()),
                        subnet_id: a.subnet_id().map(str::to_string),
                        main: a.main().unwrap_or(false),
                    })
                    .collect(),
                routes: t
                    .routes()
                    .iter()
                    .filter(|r| r.destination_cidr_block().is_some())
                    .map(|r| RouteInfo {
                        destination: s(r.destination_cidr_block()),
                        gateway_id: r.gateway_id().map(str::to_string),
                        peering_connection_id: r.vpc_peering_connection_id().map(str::to_string),
                        state: r
                            .state()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                    })
                    .collect(),
                tags: tags_of(t.tags()),
            })
            .collect())
    }

    async fn create_route_table(
        &self,
        vpc_id: String,
        tags: Tags,
        client_token: String,
    ) -> Result<String, AwsError> {
        let out = self
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(client_token)
            .tag_specifications(tag_spec(ResourceType::RouteTable, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.route_table()
            .and_then(|t| t.route_table_id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateRouteTable returned no id"))
    }

    async fn associate_route_table(
        &self,
        route_table_id: String,
        subnet_id: String,
    ) -> Result<String, AwsError> {
        let out = self
            .associate_route_table()
            .route_table_id(route_table_id)
            .subnet_id(subnet_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(s(out.association_id()))
    }

    async fn disassociate_route_table(&self, association_id: String) -> Result<(), AwsError> {
        self.disassociate_route_table()
            .association_id(association_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_route(
        &self,
        route_table_id: String,
        destination: String,
        target: RouteTarget,
    ) -> Result<(), AwsError> {
        let req = self
            .create_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(destination);
        let req = match target {
            RouteTarget::Gateway(g) => req.gateway_id(g),
            RouteTarget::Peering(p) => req.vpc_peering_connection_id(p),
        };
        req.send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn replace_route(
        &self,
        route_table_id: String,
        destination: String,
        target: RouteTarget,
    ) -> Result<(), AwsError> {
        let req = self
            .replace_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(destination);
        let req = match target {
            RouteTarget::Gateway(g) => req.gateway_id(g),
            RouteTarget::Peering(p) => req.vpc_peering_connection_id(p),
        };
        req.send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_route(
        &self,
        route_table_id: String,
        destination: String,
    ) -> Result<(), AwsError> {
        self.delete_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(destination)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_route_table(&self, route_table_id: String) -> Result<(), AwsError> {
        self.delete_route_table()
            .route_table_id(route_table_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_security_groups(
        &self,
        filters: Filters,
    ) -> Result<Vec<SecurityGroupInfo>, AwsError> {
        let items = all_items!(self
            .describe_security_groups()
            .set_filters(Some(sdk_filters(filters))), "DescribeSecurityGroups", security_groups);
        Ok(none_if_not_found(items)?
            .iter()
            .map(|g| {
                let mut ingress = Vec::new();
                let mut other = Vec::new();
                for p in g.ip_permissions() {
                    let protocol = s(p.ip_protocol());
                    let from = p.from_port().unwrap_or(-1);
                    let to = p.to_port().unwrap_or(-1);
                    for r in p.ip_ranges() {
                        ingress.push(IngressRule {
                            protocol: protocol.clone(),
                            from_port: from,
                            to_port: to,
                            cidr: s(r.cidr_ip()),
                            description: r.description().map(str::to_string),
                        });
                    }
                    for r in p.ipv6_ranges() {
                        other.push(format!("{protocol} {from}-{to} from {}", s(r.cidr_ipv6())));
                    }
                    for pair in p.user_id_group_pairs() {
                        other.push(format!(
                            "{protocol} {from}-{to} from {}",
                            s(pair.group_id())
                        ));
                    }
                    for pl in p.prefix_list_ids() {
                        other.push(format!(
                            "{protocol} {from}-{to} from {}",
                            s(pl.prefix_list_id())
                        ));
                    }
                }
                SecurityGroupInfo {
                    id: s(g.group_id()),
                    name: s(g.group_name()),
                    vpc_id: s(g.vpc_id()),
                    ingress,
                    other_ingress: other,
                    tags: tags_of(g.tags()),
                }
            })
            .collect())
    }

    async fn create_security_group(
        &self,
        vpc_id: String,
        name: String,
        description: String,
        tags: Tags,
    ) -> Result<String, AwsError> {
        let out = self
            .create_security_group()
            .vpc_id(vpc_id)
            .group_name(name)
            .description(description)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.group_id()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("EmptyResponse", "CreateSecurityGroup returned no id"))
    }

    async fn authorize_ingress(
        &self,
        group_id: String,
        rules: Vec<IngressRule>,
    ) -> Result<(), AwsError> {
        self.authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(ip_permissions(rules)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn revoke_ingress(
        &self,
        group_id: String,
        rules: Vec<IngressRule>,
    ) -> Result<(), AwsError> {
        let rules = rules
            .into_iter()
            .map(|r| IngressRule {
                description: None,
                ..r
            })
            .collect();
        self.revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(ip_permissions(rules)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_security_group(&self, group_id: String) -> Result<(), AwsError> {
        self.delete_security_group()
            .group_id(group_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_network_interfaces(
        &self,
        filters: Filters,
    ) -> Result<Vec<NetworkInterfaceInfo>, AwsError> {
        let items = all_items!(self
            .describe_network_interfaces()
            .set_filters(Some(sdk_filters(filters))), "DescribeNetworkInterfaces", network_interfaces);
        Ok(none_if_not_found(items)?
            .iter()
            .map(|n| NetworkInterfaceInfo {
                id: s(n.network_interface_id()),
                description: s(n.description()),
                status: n
                    .status()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect())
    }

    async fn create_vpc_peering_connection(
        &self,
        vpc_id: String,
        peer_vpc_id: String,
        peer_region: String,
        tags: Tags,
    ) -> Result<PeeringInfo, AwsError> {
        let out = self
            .create_vpc_peering_connection()
            .vpc_id(vpc_id)
            .peer_vpc_id(peer_vpc_id)
            .peer_region(peer_region)
            .tag_specifications(tag_spec(ResourceType::VpcPeeringConnection, tags))
            .customize()
            .config_override(once())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.vpc_peering_connection()
            .map(peering_info)
            .ok_or_else(|| {
                AwsError::other(
                    "EmptyResponse",
                    "CreateVpcPeeringConnection returned no connection",
                )
            })
    }

    async fn describe_vpc_peering_connection(
        &self,
        peering_id: String,
    ) -> Result<Option<PeeringInfo>, AwsError> {
        let r = self
            .describe_vpc_peering_connections()
            .vpc_peering_connection_ids(peering_id.clone())
            .send()
            .await
            .map_err(AwsError::from_sdk)
            .map(|o| {
                o.vpc_peering_connections()
                    .iter()
                    .map(peering_info)
                    .collect::<Vec<_>>()
            });
        // Some emulators ignore the id list: match it here too.
        Ok(none_if_not_found(r)?
            .into_iter()
            .find(|p| p.id == peering_id))
    }

    async fn find_vpc_peering_connections(
        &self,
        requester_vpc_id: String,
        accepter_vpc_id: String,
    ) -> Result<Vec<PeeringInfo>, AwsError> {
        let items = all_items!(self
            .describe_vpc_peering_connections()
            .filters(
                Filter::builder()
                    .name("requester-vpc-info.vpc-id")
                    .values(requester_vpc_id.clone())
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("accepter-vpc-info.vpc-id")
                    .values(accepter_vpc_id.clone())
                    .build(),
            ), "DescribeVpcPeeringConnections", vpc_peering_connections);
        // Filters are matched here as well: some emulators ignore them.
        Ok(items?
            .iter()
            .map(peering_info)
            .filter(|p| {
                p.requester_vpc_id == requester_vpc_id && p.accepter_vpc_id == accepter_vpc_id
            })
            .collect())
    }

    async fn accept_vpc_peering_connection(&self, peering_id: String) -> Result<(), AwsError> {
        self.accept_vpc_peering_connection()
            .vpc_peering_connection_id(peering_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_vpc_peering_connection(&self, peering_id: String) -> Result<(), AwsError> {
        self.delete_vpc_peering_connection()
            .vpc_peering_connection_id(peering_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    const PAGE: &str = r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet><nextToken>t1</nextToken></DescribeVpcsResponse>"#;

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_short_listing() {
        let http = Replay::repeat((200u16, &[("content-type", "text/xml")][..], PAGE), 5);
        let ec2 = aws_sdk_ec2::Client::new(&http.sdk_config());
        let e = Ec2Api::find_vpcs(&ec2, vec![("tag:Name".into(), "x".into())]).await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert!(e.message.contains("DescribeVpcs"), "{e}");
        assert_eq!(http.requests().len(), 2);
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_end() {
        let last = r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcSet><item><vpcId>vpc-2</vpcId></item></vpcSet></DescribeVpcsResponse>"#;
        let http = Replay::new(vec![(200u16, &[("content-type", "text/xml")][..], PAGE), (200u16, &[("content-type", "text/xml")][..], last)]);
        let ec2 = aws_sdk_ec2::Client::new(&http.sdk_config());
        let vpcs = Ec2Api::find_vpcs(&ec2, vec![]).await.unwrap();
        assert_eq!(vpcs.len(), 2);
    }
}
