/** Describe metadata of a fresh org with leadflow's custom fields (GET /sobjects/{type}/describe). */

export interface PicklistValue {
  value: string;
  label: string;
  active: boolean;
  defaultValue: boolean;
}

/** One field of a describe answer (the properties leadflow and jsforce read). */
export interface FieldDescribe {
  name: string;
  label: string;
  type: string;
  length: number;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  defaultedOnCreate: boolean;
  /** Long text areas cannot be filtered or sorted in SOQL. */
  filterable: boolean;
  custom: boolean;
  calculated: boolean;
  picklistValues: PicklistValue[];
  restrictedPicklist: boolean;
  referenceTo: string[];
  relationshipName: string | null;
}

export interface SObjectDescribe {
  name: string;
  label: string;
  keyPrefix: string;
  createable: boolean;
  updateable: boolean;
  queryable: boolean;
  fields: FieldDescribe[];
}

export const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Marketing Qualified',
  'Sales Qualified',
  'Recycled',
  'Closed - Converted',
  'Closed - Not Converted',
];
export const TASK_STATUSES = ['Not Started', 'In Progress', 'Completed'];

type FieldSpec = Partial<Omit<FieldDescribe, 'picklistValues'>> & {
  picklist?: string[];
  defaultPicklist?: string;
};

function field(name: string, type: string, spec: FieldSpec = {}): FieldDescribe {
  const isReadOnly = spec.createable === false && spec.updateable === false;
  const { picklist, defaultPicklist, ...rest } = spec;
  return {
    name,
    label: name.replace(/__c$/, '').replace(/_/g, ' '),
    type,
    length: type === 'textarea' ? 255 : STRINGY.has(type) ? 255 : 0,
    createable: !isReadOnly,
    updateable: !isReadOnly,
    nillable: type !== 'boolean',
    defaultedOnCreate: type === 'boolean' || defaultPicklist !== undefined,
    filterable: true,
    custom: name.endsWith('__c'),
    calculated: false,
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    ...rest,
    picklistValues: (picklist ?? []).map((value) => ({
      value,
      label: value,
      active: true,
      defaultValue: value === defaultPicklist,
    })),
  };
}

const STRINGY = new Set(['string', 'email', 'phone', 'url', 'picklist', 'combobox', 'textarea']);
const readOnly = { createable: false, updateable: false } as const;
const longText = (length: number): FieldSpec => ({ length, filterable: false });

function lookup(name: string, relationshipName: string, referenceTo: string[], spec: FieldSpec = {}) {
  return field(name, 'reference', { length: 18, relationshipName, referenceTo, ...spec });
}

const systemFields = () => [
  field('Id', 'id', { ...readOnly, length: 18, nillable: false, defaultedOnCreate: true }),
  field('CreatedDate', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
  field('LastModifiedDate', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
  field('SystemModstamp', 'datetime', { ...readOnly, nillable: false, defaultedOnCreate: true }),
];

/** Owner lookups default to the running user on create. */
const owner = (referenceTo: string[]) =>
  lookup('OwnerId', 'Owner', referenceTo, { nillable: false, defaultedOnCreate: true });

const person = () => [
  field('FirstName', 'string', { length: 40 }),
  field('LastName', 'string', { length: 80, nillable: false }),
  field('Name', 'string', { ...readOnly, length: 121 }),
  field('Email', 'email', { length: 80 }),
  field('Title', 'string', { length: 128 }),
  field('Phone', 'phone', { length: 40 }),
  field('LeadSource', 'picklist', {
    picklist: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'],
  }),
  field('HasOptedOutOfEmail', 'boolean'),
  field('Description', 'textarea', longText(32_000)),
];

const leadflowFields = (lifecyclePicklist: boolean) => [
  field('Leadflow_Score__c', 'double'),
  field('Leadflow_Fit_Score__c', 'double'),
  field('Leadflow_Engagement_Score__c', 'double'),
  field('Leadflow_Score_Reasons__c', 'textarea', longText(32_768)),
  field('Leadflow_Disposition_Reason__c', 'picklist', {
    picklist: [
      'Bad Timing',
      'No Budget',
      'Not a Fit',
      'Unresponsive',
      'Competitor',
      'Do Not Contact',
      'Bad Data',
    ],
  }),
  field('Leadflow_Bad_Data__c', 'boolean'),
  ...(lifecyclePicklist
    ? [
        field('Leadflow_Lifecycle_Stage__c', 'picklist', {
          picklist: LEAD_STATUSES,
          restrictedPicklist: true,
        }),
      ]
    : []),
];

function sObject(name: string, keyPrefix: string, fields: FieldDescribe[]): SObjectDescribe {
  return {
    name,
    label: name,
    keyPrefix,
    createable: true,
    updateable: true,
    queryable: true,
    fields: [...systemFields(), ...fields],
  };
}

/** Describe metadata of a fresh org with leadflow's custom fields installed. */
export function defaultDescribes(): Map<string, SObjectDescribe> {
  const all = [
    sObject('Lead', '00Q', [
      ...person(),
      field('Company', 'string', { nillable: false }),
      field('Industry', 'picklist', {
        picklist: ['Technology', 'Finance', 'Healthcare', 'Manufacturing', 'Retail', 'Education', 'Other'],
      }),
      field('NumberOfEmployees', 'int'),
      field('Country', 'string', { length: 80 }),
      field('City', 'string', { length: 40 }),
      field('State', 'string', { length: 80 }),
      owner(['Group', 'User']),
      field('Status', 'picklist', {
        picklist: LEAD_STATUSES,
        defaultPicklist: 'Open - Not Contacted',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('IsConverted', 'boolean', { updateable: false }),
      lookup('ConvertedContactId', 'ConvertedContact', ['Contact'], readOnly),
      lookup('ConvertedAccountId', 'ConvertedAccount', ['Account'], readOnly),
      field('ConvertedDate', 'date', readOnly),
      ...leadflowFields(false),
    ]),
    sObject('Contact', '003', [
      ...person(),
      field('MailingCity', 'string', { length: 40 }),
      field('MailingState', 'string', { length: 80 }),
      field('MailingCountry', 'string', { length: 80 }),
      owner(['User']),
      lookup('AccountId', 'Account', ['Account']),
      ...leadflowFields(true),
    ]),
    sObject('Account', '001', [field('Name', 'string', { nillable: false }), owner(['User'])]),
    sObject('Task', '00T', [
      lookup('WhoId', 'Who', ['Contact', 'Lead']),
      lookup('WhatId', 'What', ['Account', 'Campaign']),
      owner(['Group', 'User']),
      field('Subject', 'combobox', { picklist: ['Call', 'Send Letter', 'Send Quote', 'Other'] }),
      field('Description', 'textarea', longText(32_000)),
      field('ActivityDate', 'date'),
      field('Status', 'picklist', {
        picklist: TASK_STATUSES,
        defaultPicklist: 'Not Started',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('Priority', 'picklist', {
        picklist: ['High', 'Normal', 'Low'],
        defaultPicklist: 'Normal',
        restrictedPicklist: true,
        nillable: false,
      }),
      field('TaskSubtype', 'picklist', {
        picklist: ['Task', 'Call', 'Email'],
        defaultPicklist: 'Task',
        restrictedPicklist: true,
        updateable: false,
      }),
      field('Type', 'picklist', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
      field('IsClosed', 'boolean', readOnly),
      field('CompletedDateTime', 'datetime', readOnly),
    ]),
    sObject('Event', '00U', [
      lookup('WhoId', 'Who', ['Contact', 'Lead']),
      lookup('WhatId', 'What', ['Account', 'Campaign']),
      owner(['Group', 'User']),
      field('Subject', 'combobox', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
      field('Description', 'textarea', longText(32_000)),
      field('StartDateTime', 'datetime'),
      field('EndDateTime', 'datetime'),
      field('ActivityDateTime', 'datetime'),
      field('Type', 'picklist', { picklist: ['Call', 'Email', 'Meeting', 'Other'] }),
    ]),
    sObject('Campaign', '701', [
      field('Name', 'string', { length: 80, nillable: false }),
      field('Type', 'picklist', { picklist: ['Webinar', 'Email', 'Conference', 'Advertisement', 'Other'] }),
      field('Status', 'picklist', { picklist: ['Planned', 'In Progress', 'Completed', 'Aborted'] }),
      field('IsActive', 'boolean'),
      owner(['User']),
    ]),
    sObject('CampaignMember', '00v', [
      lookup('CampaignId', 'Campaign', ['Campaign'], { nillable: false, updateable: false }),
      lookup('LeadId', 'Lead', ['Lead'], { updateable: false }),
      lookup('ContactId', 'Contact', ['Contact'], { updateable: false }),
      field('Status', 'picklist', {
        picklist: ['Sent', 'Responded', 'Registered', 'Attended'],
        defaultPicklist: 'Sent',
      }),
      field('HasResponded', 'boolean', readOnly),
      field('FirstRespondedDate', 'date', readOnly),
    ]),
    // One record per Task.Status value: whether it closes the task (Task.IsClosed follows it).
    sObject('TaskStatus', '01J', [
      field('ApiName', 'string', { ...readOnly, length: 255 }),
      field('MasterLabel', 'string', { ...readOnly, length: 255 }),
      field('IsClosed', 'boolean', readOnly),
      field('IsDefault', 'boolean', readOnly),
      field('SortOrder', 'int', readOnly),
    ]),
    sObject('User', '005', [
      field('FirstName', 'string', { length: 40 }),
      field('LastName', 'string', { length: 80, nillable: false }),
      field('Name', 'string', { ...readOnly, length: 121 }),
      field('Email', 'email', { length: 128, nillable: false }),
      field('Username', 'string', { length: 80 }),
      field('IsActive', 'boolean'),
      field('UserType', 'picklist', {
        ...readOnly,
        picklist: ['Standard', 'PowerPartner', 'CsnOnly', 'Guest'],
      }),
    ]),
  ];
  return new Map(all.map((d) => [d.name, d]));
}
