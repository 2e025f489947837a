/** The lead the brief tests and the README example hand off: a VP in San Francisco, on HubSpot. */
export const GRACE = {
  firstName: 'Grace',
  lastName: 'Kim',
  jobTitle: 'VP RevOps',
  company: 'Initech',
  email: 'grace@initech.com',
  phone: '+1 415 555 0100',
  // HubSpot's hs_timezone stores options like this one.
  timeZone: 'america_slash_los_angeles',
  source: 'PAID_SOCIAL',
};
