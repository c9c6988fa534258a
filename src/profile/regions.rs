//! The AWS regions rmdeploy deploys to, and the variant each implies.

use super::model::Variant;

/// Commercial regions of the `aws` partition.
pub const GLOBAL_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Regions of the `aws-cn` partition.
pub const CHINA_REGIONS: &[&str] = &["cn-north-1", "cn-northwest-1"];

/// The variant a known region implies, or `None` for a name rmdeploy does not know.
pub fn variant_of(region: &str) -> Option<Variant> {
    if CHINA_REGIONS.contains(&region) {
        Some(Variant::China)
    } else if GLOBAL_REGIONS.contains(&region) {
        Some(Variant::Global)
    } else {
        None
    }
}

/// What to say about a region name rmdeploy does not know.
pub fn unknown_region_help(region: &str) -> String {
    if region.starts_with("us-gov-") || region.starts_with("us-iso") {
        return "AWS GovCloud and ISO partitions are not supported; use a global region or cn-north-1 / cn-northwest-1".into();
    }
    let all = GLOBAL_REGIONS.iter().chain(CHINA_REGIONS);
    match crate::suggest::closest(region, all.copied()) {
        Some(near) => format!("did you mean `{near}`? Regions: a global one such as us-east-1, or cn-north-1 / cn-northwest-1"),
        None => "use a global region such as us-east-1 or eu-west-1, or cn-north-1 / cn-northwest-1 for AWS China".into(),
    }
}
