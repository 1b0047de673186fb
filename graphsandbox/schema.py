"""What each Graph entity set looks like: its OData type, known properties and query limits.

One table drives `$select` validation, `$filter` property checks, `$orderby` support and page
sizes, so the query engine has no per-entity branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

# $filter operators the resource pages list per property (lower-case; "not" is the prefix operator).
# A property not listed here accepts every operator but gt/lt, which no directory property lists.
KEY = frozenset({"eq", "ne", "not", "in"})
FLAGS = frozenset({"eq", "ne", "not"})
FLAGS_IN = FLAGS | {"in"}
DATES = frozenset({"eq", "ne", "not", "ge", "le", "in"})
RANGE = frozenset({"eq", "ne", "not", "ge", "le", "in", "startswith"})
RANGE_NO_IN = RANGE - {"in"}
ADDRESS = RANGE | {"endswith"}


@dataclass(frozen=True)
class EntitySpec:
    name: str  # entity set name, as in the URL and @odata.context
    type_name: str  # "microsoft.graph.user"
    resource: str  # name used in filter errors ("User")
    properties: tuple[str, ...]  # every property $select may name
    default_select: tuple[str, ...] | None = None  # properties returned without $select (None: all)
    basic_filter: frozenset[str] = frozenset()  # filterable without ConsistencyLevel: eventual
    advanced_filter: frozenset[str] = frozenset()  # filterable only as an advanced query
    sortable: frozenset[str] = frozenset()
    max_top: int = 999
    default_top: int = 100
    skip_supported: bool = False
    directory: bool = True  # directory object: advanced-query rules apply
    operators: tuple[tuple[str, frozenset[str]], ...] = ()  # documented $filter operators per property

    @cached_property
    def _by_lower(self) -> dict[str, str]:
        return {p.lower(): p for p in self.properties}

    def canonical(self, prop: str) -> str | None:
        """The property's schema spelling (Graph matches property names case-insensitively)."""
        return self._by_lower.get(prop.lower())

    def filterable(self, prop: str, advanced: bool) -> bool:
        return prop in self.basic_filter or (advanced and prop in self.advanced_filter)

    @cached_property
    def _operators(self) -> dict[str, frozenset[str]]:
        return dict(self.operators)

    def allows(self, prop: str, operator: str) -> bool:
        """Whether Graph documents ``operator`` (eq, ge, startswith, ...) in ``$filter`` on ``prop``."""
        listed = self._operators.get(prop)
        if listed is not None:
            return operator in listed
        return not (self.directory and operator in ("gt", "lt"))


USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)

USER_PROPERTIES = USER_DEFAULT + (
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "city",
    "companyName",
    "country",
    "createdDateTime",
    "creationType",
    "deletedDateTime",
    "department",
    "employeeId",
    "employeeType",
    "externalUserState",
    "faxNumber",
    "identities",
    "imAddresses",
    "isResourceAccount",
    "lastPasswordChangeDateTime",
    "mailNickname",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
    "onPremisesSyncEnabled",
    "otherMails",
    "passwordPolicies",
    "postalCode",
    "proxyAddresses",
    "showInAddressList",
    "state",
    "streetAddress",
    "usageLocation",
    "userType",
)

USERS = EntitySpec(
    name="users",
    type_name="microsoft.graph.user",
    resource="User",
    properties=USER_PROPERTIES,
    default_select=USER_DEFAULT,
    basic_filter=frozenset(
        {
            "id",
            "displayName",
            "givenName",
            "surname",
            "userPrincipalName",
            "mail",
            "jobTitle",
            "accountEnabled",
            "userType",
            "usageLocation",
            "mailNickname",
            "preferredLanguage",
            "createdDateTime",
            "employeeId",
            "proxyAddresses",
            "otherMails",
            "identities",
            "assignedLicenses",
            "onPremisesSyncEnabled",
            "onPremisesImmutableId",
            "externalUserState",
            "creationType",
            "ageGroup",
            "businessPhones",
            "imAddresses",
        }
    ),
    # Graph's advanced-query table lists these as filterable only with ConsistencyLevel: eventual.
    advanced_filter=frozenset(
        {
            "officeLocation",
            "mobilePhone",
            "department",
            "companyName",
            "city",
            "country",
            "state",
            "postalCode",
            "streetAddress",
            "employeeType",
            "faxNumber",
            "onPremisesSamAccountName",
            "lastPasswordChangeDateTime",
            "showInAddressList",
            "isResourceAccount",
            "passwordPolicies",
        }
    ),
    sortable=frozenset({"displayName", "userPrincipalName"}),
    # https://learn.microsoft.com/graph/api/resources/user#properties
    operators=(
        ("id", KEY),
        ("userPrincipalName", ADDRESS),
        ("mail", ADDRESS),
        *((p, RANGE) for p in ("displayName", "givenName", "surname", "jobTitle", "mailNickname", "mobilePhone")),
        *((p, RANGE) for p in ("officeLocation", "preferredLanguage", "usageLocation", "state", "streetAddress")),
        *((p, RANGE) for p in ("postalCode", "faxNumber", "onPremisesSamAccountName")),
        ("createdDateTime", DATES),
        ("onPremisesImmutableId", DATES),
        *((p, FLAGS_IN) for p in ("accountEnabled", "userType", "externalUserState", "onPremisesSyncEnabled")),
        ("showInAddressList", FLAGS_IN),
    ),
)

GROUP_PROPERTIES = (
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "creationOptions",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesNetBiosName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
)

GROUPS = EntitySpec(
    name="groups",
    type_name="microsoft.graph.group",
    resource="Group",
    properties=GROUP_PROPERTIES,
    basic_filter=frozenset(
        {
            "id",
            "displayName",
            "mail",
            "mailEnabled",
            "mailNickname",
            "securityEnabled",
            "groupTypes",
            "proxyAddresses",
            "onPremisesSyncEnabled",
            "isAssignableToRole",
            "expirationDateTime",
            "preferredLanguage",
            "securityIdentifier",
            "resourceProvisioningOptions",
        }
    ),
    advanced_filter=frozenset(
        {"description", "createdDateTime", "classification", "visibility", "membershipRule", "theme", "renewedDateTime"}
    ),
    sortable=frozenset({"displayName"}),
    # https://learn.microsoft.com/graph/api/resources/group#properties
    operators=(
        ("id", KEY),
        *((p, RANGE) for p in ("displayName", "mail", "mailNickname", "onPremisesSamAccountName")),
        *((p, RANGE_NO_IN) for p in ("description", "classification", "membershipRule")),
        ("createdDateTime", DATES),
        ("expirationDateTime", DATES),
        *((p, FLAGS) for p in ("mailEnabled", "securityEnabled", "isAssignableToRole")),
    ),
)

DEVICE_PROPERTIES = (
    "id",
    "deletedDateTime",
    "accountEnabled",
    "approximateLastSignInDateTime",
    "complianceExpirationDateTime",
    "createdDateTime",
    "deviceId",
    "deviceMetadata",
    "deviceVersion",
    "displayName",
    "isCompliant",
    "isManaged",
    "manufacturer",
    "model",
    "onPremisesLastSyncDateTime",
    "onPremisesSyncEnabled",
    "operatingSystem",
    "operatingSystemVersion",
    "physicalIds",
    "profileType",
    "registrationDateTime",
    "systemLabels",
    "trustType",
)

DEVICES = EntitySpec(
    name="devices",
    type_name="microsoft.graph.device",
    resource="Device",
    properties=DEVICE_PROPERTIES,
    basic_filter=frozenset(
        {
            "id",
            "accountEnabled",
            "deviceId",
            "displayName",
            "operatingSystem",
            "operatingSystemVersion",
            "trustType",
            "approximateLastSignInDateTime",
            "isCompliant",
            "isManaged",
            "physicalIds",
            "profileType",
            "systemLabels",
            "onPremisesSyncEnabled",
        }
    ),
    advanced_filter=frozenset({"manufacturer", "model", "registrationDateTime", "createdDateTime"}),
    sortable=frozenset({"displayName"}),
    # https://learn.microsoft.com/graph/api/resources/device#properties
    operators=(
        ("id", KEY),
        ("displayName", RANGE),
        ("deviceId", FLAGS | {"startswith"}),
        ("operatingSystem", RANGE_NO_IN),
        ("operatingSystemVersion", RANGE_NO_IN),
        ("approximateLastSignInDateTime", DATES - {"in"}),
        ("isCompliant", FLAGS),
        ("isManaged", FLAGS),
        ("onPremisesSyncEnabled", FLAGS_IN),
    ),
)

APPLICATIONS = EntitySpec(
    name="applications",
    type_name="microsoft.graph.application",
    resource="Application",
    properties=(
        "id",
        "deletedDateTime",
        "appId",
        "applicationTemplateId",
        "createdDateTime",
        "description",
        "disabledByMicrosoftStatus",
        "displayName",
        "groupMembershipClaims",
        "identifierUris",
        "isDeviceOnlyAuthSupported",
        "isFallbackPublicClient",
        "notes",
        "publisherDomain",
        "serviceManagementReference",
        "signInAudience",
        "tags",
        "tokenEncryptionKeyId",
        "uniqueName",
        "addIns",
        "api",
        "appRoles",
        "info",
        "keyCredentials",
        "optionalClaims",
        "parentalControlSettings",
        "passwordCredentials",
        "publicClient",
        "requiredResourceAccess",
        "requestSignatureVerification",
        "samlMetadataUrl",
        "servicePrincipalLockConfiguration",
        "spa",
        "verifiedPublisher",
        "web",
        "certification",
        "defaultRedirectUri",
    ),
    basic_filter=frozenset(
        {"id", "appId", "displayName", "identifierUris", "publisherDomain", "signInAudience", "tags", "uniqueName"}
    ),
    advanced_filter=frozenset({"createdDateTime", "description", "notes"}),
    sortable=frozenset({"displayName"}),
    # https://learn.microsoft.com/graph/api/resources/application#properties
    operators=(
        ("id", KEY),
        ("displayName", RANGE),
        ("appId", frozenset({"eq"})),
        ("createdDateTime", DATES),
        ("description", RANGE_NO_IN),
        ("publisherDomain", frozenset({"eq", "ne", "ge", "le", "startswith"})),
        ("signInAudience", FLAGS),
    ),
)

SERVICE_PRINCIPALS = EntitySpec(
    name="servicePrincipals",
    type_name="microsoft.graph.servicePrincipal",
    resource="ServicePrincipal",
    properties=(
        "id",
        "deletedDateTime",
        "accountEnabled",
        "alternativeNames",
        "appDisplayName",
        "appDescription",
        "appId",
        "applicationTemplateId",
        "appOwnerOrganizationId",
        "appRoleAssignmentRequired",
        "createdDateTime",
        "description",
        "disabledByMicrosoftStatus",
        "displayName",
        "homepage",
        "loginUrl",
        "logoutUrl",
        "notes",
        "notificationEmailAddresses",
        "preferredSingleSignOnMode",
        "preferredTokenSigningKeyThumbprint",
        "replyUrls",
        "servicePrincipalNames",
        "servicePrincipalType",
        "signInAudience",
        "tags",
        "tokenEncryptionKeyId",
        "addIns",
        "appRoles",
        "info",
        "keyCredentials",
        "oauth2PermissionScopes",
        "passwordCredentials",
        "resourceSpecificApplicationPermissions",
        "samlSingleSignOnSettings",
        "verifiedPublisher",
    ),
    basic_filter=frozenset(
        {
            "id",
            "appId",
            "displayName",
            "accountEnabled",
            "servicePrincipalNames",
            "servicePrincipalType",
            "tags",
            "appOwnerOrganizationId",
        }
    ),
    advanced_filter=frozenset({"createdDateTime", "description", "notes", "appDisplayName"}),
    sortable=frozenset({"displayName"}),
    # https://learn.microsoft.com/graph/api/resources/serviceprincipal#properties
    operators=(
        ("id", KEY),
        ("displayName", RANGE),
        ("appId", KEY | {"startswith"}),
    ),
)

APP_ROLE_ASSIGNMENTS = EntitySpec(
    name="appRoleAssignments",
    type_name="microsoft.graph.appRoleAssignment",
    resource="AppRoleAssignment",
    properties=(
        "id",
        "deletedDateTime",
        "appRoleId",
        "createdDateTime",
        "principalDisplayName",
        "principalId",
        "principalType",
        "resourceDisplayName",
        "resourceId",
    ),
    basic_filter=frozenset({"id", "appRoleId", "principalId", "resourceId"}),
)

DIRECTORY_ROLES = EntitySpec(
    name="directoryRoles",
    type_name="microsoft.graph.directoryRole",
    resource="DirectoryRole",
    properties=("id", "deletedDateTime", "description", "displayName", "roleTemplateId"),
    basic_filter=frozenset({"id", "displayName", "roleTemplateId"}),
)

ORGANIZATION = EntitySpec(
    name="organization",
    type_name="microsoft.graph.organization",
    resource="Organization",
    properties=(
        "id",
        "deletedDateTime",
        "businessPhones",
        "city",
        "country",
        "countryLetterCode",
        "createdDateTime",
        "defaultUsageLocation",
        "displayName",
        "marketingNotificationEmails",
        "onPremisesLastSyncDateTime",
        "onPremisesSyncEnabled",
        "postalCode",
        "preferredLanguage",
        "privacyProfile",
        "securityComplianceNotificationMails",
        "securityComplianceNotificationPhones",
        "state",
        "street",
        "technicalNotificationMails",
        "tenantType",
        "assignedPlans",
        "provisionedPlans",
        "verifiedDomains",
    ),
    basic_filter=frozenset({"id"}),
)

DOMAINS = EntitySpec(
    name="domains",
    type_name="microsoft.graph.domain",
    resource="Domain",
    properties=(
        "id",
        "authenticationType",
        "availabilityStatus",
        "isAdminManaged",
        "isDefault",
        "isInitial",
        "isRoot",
        "isVerified",
        "passwordNotificationWindowInDays",
        "passwordValidityPeriodInDays",
        "supportedServices",
        "state",
    ),
    basic_filter=frozenset({"id", "isDefault", "isInitial", "isVerified"}),
)

SUBSCRIBED_SKUS = EntitySpec(
    name="subscribedSkus",
    type_name="microsoft.graph.subscribedSku",
    resource="SubscribedSku",
    properties=(
        "id",
        "accountId",
        "accountName",
        "appliesTo",
        "capabilityStatus",
        "consumedUnits",
        "prepaidUnits",
        "servicePlans",
        "skuId",
        "skuPartNumber",
        "subscriptionIds",
    ),
    basic_filter=frozenset({"id", "skuId", "skuPartNumber"}),
)

MESSAGES = EntitySpec(
    name="messages",
    type_name="microsoft.graph.message",
    resource="Message",
    properties=(
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "conversationIndex",
        "isDeliveryReceiptRequested",
        "isReadReceiptRequested",
        "isRead",
        "isDraft",
        "webLink",
        "inferenceClassification",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "flag",
    ),
    basic_filter=frozenset(
        {
            "id",
            "createdDateTime",
            "lastModifiedDateTime",
            "receivedDateTime",
            "sentDateTime",
            "hasAttachments",
            "subject",
            "importance",
            "isRead",
            "isDraft",
            "conversationId",
            "categories",
            "internetMessageId",
            "inferenceClassification",
            "from",
        }
    ),
    sortable=frozenset({"receivedDateTime", "sentDateTime", "subject", "createdDateTime"}),
    max_top=1000,
    default_top=10,
    skip_supported=True,
    directory=False,
)

# Group members are directoryObjects: mostly users here, each tagged with its @odata.type.
MEMBERS = EntitySpec(
    name="directoryObjects",
    type_name="microsoft.graph.directoryObject",
    resource="DirectoryObject",
    properties=USER_PROPERTIES,
    default_select=USER_DEFAULT,
    basic_filter=USERS.basic_filter,
    advanced_filter=USERS.advanced_filter,
    sortable=USERS.sortable,
)

BY_NAME: dict[str, EntitySpec] = {
    s.name: s
    for s in (
        USERS,
        GROUPS,
        DEVICES,
        APPLICATIONS,
        SERVICE_PRINCIPALS,
        DIRECTORY_ROLES,
        ORGANIZATION,
        DOMAINS,
        SUBSCRIBED_SKUS,
    )
}
