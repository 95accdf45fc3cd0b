import type { Message, Root, Type } from 'protobufjs';
import type { Tier } from '../tier.ts';
import type { TypeNode } from './nodes.ts';

/** One field of a family message, as the policy and tooling see it. */
export interface FieldInfo {
  /** Field name as written in the .proto file (snake_case). */
  readonly name: string;
  /** camelCase name, as protobufjs and the JSON bodies use it. */
  readonly jsonName: string;
  /** Field number. */
  readonly number: number;
  /** The field's own sensitivity (nested fields: see {@link fieldsAt}). */
  readonly sensitivity: Tier;
  readonly repeated: boolean;
  /** Full name of the field's message type (e.g. `liaison.v1.Person`, `google.protobuf.Timestamp`). */
  readonly messageType?: string;
  /** Full name of the field's enum type (e.g. `liaison.v1.DocumentStatus`). */
  readonly enumType?: string;
}

/** A family message type of the catalogue. */
export interface MessageInfo {
  /** Short name, e.g. `DocumentReport`. */
  readonly name: string;
  /** Full name, e.g. `liaison.v1.DocumentReport`. */
  readonly fullName: string;
  /** Family (NATS subject token), e.g. `documents`. */
  readonly family: string;
  /** Paragraphs of resolution 6/3 the message serves, numerically (¶9(c) → 9), in declared order. */
  readonly paragraphs: readonly number[];
  /** The same paragraphs as written in the schema, e.g. `['13', '9(c)']`. */
  readonly paragraphRefs: readonly string[];
  /** The protobufjs reflection type (reused for every encode/decode). */
  readonly type: Type;
  /** Top-level fields in declaration order. */
  readonly fields: readonly FieldInfo[];
  /** @internal Precomputed JSON conversion and per-tier projection plans. */
  readonly node: TypeNode;
}

/** The protobufjs types of envelope.proto. */
export interface EnvelopeTypes {
  readonly Envelope: Type;
  readonly Signed: Type;
  readonly Header: Type;
}

/** The loaded, validated Liaison schemas. */
export interface Catalog {
  readonly root: Root;
  /** Family message types keyed by short name. */
  readonly types: ReadonlyMap<string, MessageInfo>;
  /** Family → short type names, in catalogue order. */
  readonly families: ReadonlyMap<string, readonly string[]>;
  /**
   * The message type named by a short name (`DocumentReport`), full name (`liaison.v1.DocumentReport`)
   * or type URL (`type.googleapis.com/liaison.v1.DocumentReport`); throws ERR_TYPE_UNKNOWN otherwise.
   */
  get(name: string): MessageInfo;
  /** The type URL of a type (`type.googleapis.com/liaison.v1.DocumentReport`); throws ERR_TYPE_UNKNOWN. */
  typeUrl(name: string): string;
  readonly envelopeTypes: EnvelopeTypes;
}

/** A decoded or validated message body (a protobufjs message instance). */
export type BodyMessage = Message<object>;
