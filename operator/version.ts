/**
 * The operator's own release. A MessagingCluster that pins no spec.image.tag runs this tag,
 * so upgrading the operator upgrades the clusters that did not pin one (with the schema
 * migrations this release carries). Equal to package.json's version and the chart's
 * appVersion (version.test.ts).
 */
export const OPERATOR_VERSION = "0.1.0";
