// Typed errors of the booth's crypto core, one per class of evote/errors.py
// that the booth can meet, with the same stable `code` strings so that the
// UI maps a failure to a message in the voter's language the same way the
// server maps it to an HTTP error body.

export class EvoteError extends Error {
  /**
   * @param {string} message  English, for developers and logs; the UI shows
   *   a catalogue message chosen by `code` (and `detail.reason` where given).
   * @param {object} [detail]
   */
  constructor(message, detail = {}) {
    super(message);
    this.name = this.constructor.name;
    this.detail = detail;
  }

  get code() {
    return 'invalid';
  }
}

const withCode = (name, code, Base = EvoteError) => {
  const cls = class extends Base {
    get code() {
      return code;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
};

export const EncodingError = withCode('EncodingError', 'bad_encoding');
export const InvalidScalar = withCode('InvalidScalar', 'invalid_scalar', EncodingError);
export const InvalidPoint = withCode('InvalidPoint', 'invalid_point', EncodingError);
export const SchemaError = withCode('SchemaError', 'bad_schema');
export const ManifestError = withCode('ManifestError', 'bad_manifest', SchemaError);
export const InvalidProof = withCode('InvalidProof', 'invalid_proof');
export const InvalidSignature = withCode('InvalidSignature', 'invalid_signature');
export const InvalidBallot = withCode('InvalidBallot', 'invalid_ballot');
export const AuditMismatch = withCode('AuditMismatch', 'audit_mismatch');
export const CredentialError = withCode('CredentialError', 'bad_credential');
export const MerkleError = withCode('MerkleError', 'merkle');
export const RootMismatchError = withCode('RootMismatchError', 'root_mismatch', MerkleError);
export const WitnessPolicyError = withCode('WitnessPolicyError', 'witness_policy');
