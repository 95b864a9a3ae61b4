"""Where the stack can be deployed: the regions of the `aws` partition, each with what the stack needs that is
missing there.

A CloudFormation resource type that does not exist in a region fails the deployment there, and only after the
resources before it were created (the OpenSearch domain alone takes 15-30 minutes). So the stack checks its region
at synthesis (`check_region`, when the region is known: `cdk synth`/`cdk deploy` with credentials or
CDK_DEFAULT_REGION), and a template rule checks it again before CloudFormation creates anything (for a template
synthesized without a region).

The table is cfn-lint 1.58's per-region resource schemas for the resource types of the stack with every optional
part on (tests/infra/test_regions.py checks both directions, and lints the template in every supported region).
Only the `aws` partition: aws-cn has no Rekognition face collections nor Cognito, and aws-us-gov is not tested.
"""

from __future__ import annotations

from infra.settings import SettingsError

REKOGNITION_COLLECTION = "AWS::Rekognition::Collection"
# what a missing resource type means to a person choosing a region
SERVICES = {REKOGNITION_COLLECTION: "Amazon Rekognition face collections"}

# region -> resource types of the stack that do not exist there (empty: the stack deploys there)
REGIONS: dict[str, tuple[str, ...]] = {
    "af-south-1": (REKOGNITION_COLLECTION,),
    "ap-east-1": (REKOGNITION_COLLECTION,),
    "ap-east-2": (REKOGNITION_COLLECTION,),
    "ap-northeast-1": (),
    "ap-northeast-2": (),
    "ap-northeast-3": (REKOGNITION_COLLECTION,),
    "ap-south-1": (),
    "ap-south-2": (REKOGNITION_COLLECTION,),
    "ap-southeast-1": (),
    "ap-southeast-2": (),
    "ap-southeast-3": (REKOGNITION_COLLECTION,),
    "ap-southeast-4": (REKOGNITION_COLLECTION,),
    "ap-southeast-5": (),
    "ap-southeast-6": (REKOGNITION_COLLECTION,),
    "ap-southeast-7": (),
    "ca-central-1": (),
    "ca-west-1": (REKOGNITION_COLLECTION,),
    "eu-central-1": (),
    "eu-central-2": (REKOGNITION_COLLECTION,),
    "eu-north-1": (REKOGNITION_COLLECTION,),
    "eu-south-1": (REKOGNITION_COLLECTION,),
    "eu-south-2": (),
    "eu-west-1": (),
    "eu-west-2": (),
    "eu-west-3": (REKOGNITION_COLLECTION,),
    "il-central-1": (),
    "me-central-1": (REKOGNITION_COLLECTION,),
    "mx-central-1": (REKOGNITION_COLLECTION,),
    "sa-east-1": (),
    "us-east-1": (),
    "us-east-2": (),
    "us-west-1": (),
    "us-west-2": (),
}
SUPPORTED_REGIONS = tuple(region for region, missing in REGIONS.items() if not missing)


class UnsupportedRegion(SettingsError):
    """The stack cannot be deployed in this region; the message names what is missing and where it can go."""


def check_region(region: str) -> None:
    """Raise UnsupportedRegion unless every resource type of the stack exists in `region`."""
    if region in SUPPORTED_REGIONS:
        return
    where = f"Deploy in one of: {', '.join(SUPPORTED_REGIONS)}."
    missing = REGIONS.get(region)
    if missing:
        services = "; ".join(f"{SERVICES.get(kind, kind)} ({kind})" for kind in missing)
        raise UnsupportedRegion(f"mediaindex cannot be deployed in {region}: {services} does not exist there. {where}")
    if region.startswith("cn-"):
        raise UnsupportedRegion(f"mediaindex cannot be deployed in {region}: the aws-cn partition has no "
                                f"{SERVICES[REKOGNITION_COLLECTION]} ({REKOGNITION_COLLECTION}) nor Amazon Cognito. "
                                f"{where}")
    raise UnsupportedRegion(f"region {region} is not in infra/regions.py's table of the aws partition, so whether "
                            f"the stack's services exist there is unknown. {where}")
