// Source: DanielRivers/kinde-workflow utils/utils.ts @ 4740ed739b509d0f7512260c638b64429d2966de (ISC)
const settings = {
    output: '123'
}

export {
    settings
}