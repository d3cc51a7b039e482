// Generates the fixtures in tests/unit/sigv4_vectors/: presigned S3 URLs made by the
// official AWS SDK for JavaScript, which lib/sigv4.c must reproduce (test_sigv4.c).
// Developer-only: the C unit test reads the committed fixtures, so node is not needed
// at test time. Regenerate with `npm ci && npm run -s sigv4-fixtures` in tests/tools.
//
//   node sigv4-sdk.mjs put   PutObject media/abc/def, Content-Type and Content-Length signed
//   node sigv4-sdk.mjs get   GetObject of a key needing percent-encoding, with a
//                            response-content-disposition override
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const client = new S3Client({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:19080',
  forcePathStyle: true,
  credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
  // Without this the SDK adds CRC32 checksum parameters the server side never signs.
  requestChecksumCalculation: 'WHEN_REQUIRED',
});

// Fixed so the fixtures are reproducible; the C test signs at the same instant.
const signingDate = new Date('2024-05-01T12:34:56Z');

const which = process.argv[2] ?? 'put';
let url;
if (which === 'put') {
  const cmd = new PutObjectCommand({
    Bucket: 'media',
    Key: 'abc/def',
    ContentType: 'image/jpeg',
    ContentLength: 12345,
  });
  url = await getSignedUrl(client, cmd, {
    expiresIn: 900,
    signingDate,
    // By default the presigner leaves these unsigned; the upload must match them.
    signableHeaders: new Set(['content-type', 'content-length']),
  });
} else if (which === 'get') {
  const cmd = new GetObjectCommand({
    Bucket: 'media',
    Key: 'photos/\u00fcn\u00ef code~ 1+2(x).jpg',
    ResponseContentDisposition: 'attachment; filename="a b/c.jpg"',
  });
  url = await getSignedUrl(client, cmd, { expiresIn: 604800, signingDate });
} else {
  process.stderr.write(`usage: node sigv4-sdk.mjs put|get\n`);
  process.exit(2);
}
process.stdout.write(url + '\n');
