import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const hook = new Webhook(process.env.WEBHOOK_SECRET);
createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    try {
      const data = hook.verify(body, req.headers); // throws unless signed with the secret, within 5 minutes
      console.log(req.headers['webhook-id'], req.headers['hng-event'], JSON.stringify(data));
      res.writeHead(204).end(); // any 2xx: delivered (and, bound to a consumer, acknowledged)
    } catch {
      res.writeHead(401).end();
    }
  });
}).listen(Number(process.env.PORT ?? 8080));
