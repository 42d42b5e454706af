// Loads a dumped tileset into Azurite and prints three container SAS URLs as shell
// assignments: AZURITE_LIST_URL (sp=rl, as Bentley's mesh links), AZURITE_READ_ONLY_URL
// (sp=r) and AZURITE_EXPIRED_URL (sp=rl, expired an hour ago).
// Usage: node azurite-setup.js BLOB_ENDPOINT DIR. With `--add-extra` for DIR it adds
// extras/notes.txt, a file the tileset does not name, to the loaded container.
// Run by .ci/azurite-checks (and the bench) with NODE_PATH pointing at @azure/storage-blob.
const fs = require('fs');
const path = require('path');
const {
  BlobServiceClient, StorageSharedKeyCredential, ContainerSASPermissions,
  generateBlobSASQueryParameters,
} = require('@azure/storage-blob');

// Azurite's well-known development account.
const account = 'devstoreaccount1';
const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

function files(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const name = prefix + entry.name;
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? files(full, name + '/') : [[name, full]];
  });
}

(async () => {
  const [endpoint, dir] = process.argv.slice(2);
  const credential = new StorageSharedKeyCredential(account, key);
  const service = new BlobServiceClient(endpoint, credential);
  const container = service.getContainerClient('tiles');
  if (dir === '--add-extra') {
    // A file beside the tileset that it does not name, as a container may hold: counted by a
    // listing download, mirrored by --all-files and by azcopy.
    await container.getBlockBlobClient('extras/notes.txt').uploadData(Buffer.from('not a tile\n'));
    return;
  }
  await container.create();
  for (const [name, full] of files(dir)) {
    // The media types the emulator serves.
    const type = name.endsWith('.json') ? 'application/json'
      : name.endsWith('.glb') ? 'model/gltf-binary' : 'application/octet-stream';
    const bytes = fs.readFileSync(full);
    await container.getBlockBlobClient(name).uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: type },
    });
  }
  const url = (permissions, expiresInSeconds = 3600) => {
    const sas = generateBlobSASQueryParameters({
      containerName: 'tiles',
      permissions: ContainerSASPermissions.parse(permissions),
      startsOn: new Date(Date.now() - 2 * 3600 * 1000),
      expiresOn: new Date(Date.now() + expiresInSeconds * 1000),
    }, credential).toString();
    return `${container.url}?${sas}`;
  };
  console.log(`AZURITE_LIST_URL='${url('rl')}'`);
  console.log(`AZURITE_READ_ONLY_URL='${url('r')}'`);
  console.log(`AZURITE_EXPIRED_URL='${url('rl', -3600)}'`);
})().catch((e) => { console.error(e); process.exit(2); });
