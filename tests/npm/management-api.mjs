// The official Kinde management client, unchanged, pointed at claimflow: the calls a Kinde
// user's provisioning script makes. Prints what it read back as JSON for the Rust test.
//
// The client prefixes `https://` to the domain it is given; the test stack speaks plain http
// on loopback, so the domain and the audience are passed explicitly through `init`.
import { Applications, Organizations, Properties, init } from "@kinde/management-api-js";

const issuer = process.env.CLAIMFLOW_ISSUER;
init({
  kindeDomain: issuer,
  audience: `${issuer}/api`,
  clientId: process.env.CLAIMFLOW_CLIENT_ID,
  clientSecret: process.env.CLAIMFLOW_CLIENT_SECRET,
});

const created = await Applications.createApplication({ requestBody: { name: "Provisioned by the Kinde client", type: "m2m" } });
const applicationId = created.application.id;
const organization = await Organizations.createOrganization({ requestBody: { name: "Globex", external_id: "globex-1" } });
const property = await Properties.createProperty({
  requestBody: { name: "Organization code", key: "org_code", type: "single_line_text", context: "app", is_private: false, description: "The tenant" },
});
await Applications.updateApplicationsProperty({
  applicationId,
  propertyKey: "org_code",
  requestBody: { value: organization.organization.code },
});
const application = await Applications.getApplication({ applicationId });
const values = await Applications.getApplicationPropertyValues({ applicationId });
const readOrganization = await Organizations.getOrganization({ code: organization.organization.code });
const properties = await Properties.getProperties();

console.log(JSON.stringify({
  created,
  application,
  organization,
  readOrganization,
  property,
  properties,
  values,
}));
