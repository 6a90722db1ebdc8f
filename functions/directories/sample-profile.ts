/**
 * The profile discovery types into a multi-page form to reach its next page, and a dry run fills a form with
 * when no customer is named: plainly not a real business, in a reserved domain (.invalid), so that a site
 * which keeps a draft of an inner page keeps nothing that could pass for a listing.
 */
import type { Profile } from '#shared/customer-store';

export const SAMPLE_PROFILE: Profile = {
  name: 'Formfleet Form Check (not a business)',
  email: 'form-check@formfleet.invalid',
  phone: '+1 555 0100',
  website: 'https://formfleet.invalid',
  address: '1 Example Street',
  city: 'Springfield',
  state: 'IL',
  zip: '62704',
  category: 'Other',
  description: 'A formfleet check of this form. Nothing is submitted.',
};
